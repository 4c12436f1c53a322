"""Realistic Account Activity payloads (v1.1 tweet objects), shaped as X sends them.

`try_mention` feeds one through the webhook, and the tests and benches build theirs
here, so the shape X sends lives in one place. Ids are above 2**53 on purpose: a parser
that goes through floats gets them wrong.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

BOT_ID = "1400000000000000001"
BOT_NAME = "imagebot"
AUTHOR_ID = "1500000000000000002"
AUTHOR_NAME = "ana"
_ids = itertools.count(1600000000000000001)


def next_id() -> str:
    return str(next(_ids))


def user(user_id: str = AUTHOR_ID, screen_name: str = AUTHOR_NAME) -> dict:
    return {
        "id": int(user_id),
        "id_str": user_id,
        "name": screen_name.title(),
        "screen_name": screen_name,
        "protected": False,
        "verified": False,
        "followers_count": 12,
        "profile_image_url_https": "https://pbs.twimg.com/profile_images/1/a_normal.jpg",
    }


def media(kind: str = "photo", index: int = 0, tweet_id: str = "0") -> dict:
    media_id = str(1700000000000000000 + int(tweet_id[-6:] or 0) * 10 + index)
    item: dict[str, Any] = {
        "id": int(media_id),
        "id_str": media_id,
        "indices": [20, 43],
        "media_url": f"http://pbs.twimg.com/media/img{media_id}.jpg",
        "media_url_https": f"https://pbs.twimg.com/media/img{media_id}.jpg",
        "url": "https://t.co/abcDEF1234",
        "display_url": "pic.x.com/abcDEF1234",
        "expanded_url": f"https://x.com/{AUTHOR_NAME}/status/{tweet_id}/photo/{index + 1}",
        "type": kind,
        "sizes": {"large": {"w": 2048, "h": 1536, "resize": "fit"}, "thumb": {"w": 150, "h": 150, "resize": "crop"}},
    }
    if kind != "photo":
        thumb = "tweet_video_thumb" if kind == "animated_gif" else "ext_tw_video_thumb"
        item["media_url_https"] = f"https://pbs.twimg.com/{thumb}/img{media_id}.jpg"
        item["media_url"] = item["media_url_https"].replace("https", "http", 1)
        item["video_info"] = {
            "aspect_ratio": [4, 3],
            "variants": [{"bitrate": 0, "content_type": "video/mp4", "url": f"https://video.twimg.com/{thumb}/{media_id}.mp4"}],
        }
    return item


def mention(user_id: str = BOT_ID, screen_name: str = BOT_NAME, start: int = 0) -> dict:
    return {
        "screen_name": screen_name,
        "name": screen_name,
        "id": int(user_id),
        "id_str": user_id,
        "indices": [start, start + 1 + len(screen_name)],
    }


def tweet(
    *,
    text: str | None = None,
    photos: int = 1,
    kinds: tuple[str, ...] | None = None,
    author_id: str = AUTHOR_ID,
    author_name: str = AUTHOR_NAME,
    mention_bot: bool = True,
    tweet_id: str | None = None,
    urls: list[str] | None = None,
    created_at: str = "Wed Nov 25 10:15:30 +0000 2026",
    bot_id: str = BOT_ID,
    bot_name: str = BOT_NAME,
) -> dict:
    """A tweet by `author_name` that mentions the bot (where `text` names it, at the start by default).

    `urls` replaces the photos' media_url_https (one per photo), e.g. with a local server's.
    """
    tweet_id = tweet_id or next_id()
    kinds = kinds or ("photo",) * (len(urls) if urls else photos)
    items = [media(kind, i, tweet_id) for i, kind in enumerate(kinds)]
    for item, url in zip(items, urls or (), strict=False):
        item["media_url_https"] = url
    text = (
        text
        if text is not None
        else (f"@{bot_name} what is on this? https://t.co/abcDEF1234" if mention_bot else "look at this https://t.co/abcDEF1234")
    )
    mentions = [mention(bot_id, bot_name, max(text.find(f"@{bot_name}"), 0))] if mention_bot else []
    entities = {"hashtags": [], "urls": [], "symbols": [], "user_mentions": mentions}
    post: dict[str, Any] = {
        "created_at": created_at,
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "display_text_range": [0, len(text)],
        "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
        "truncated": False,
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "in_reply_to_screen_name": None,
        "user": user(author_id, author_name),
        "is_quote_status": False,
        "quote_count": 0,
        "reply_count": 0,
        "retweet_count": 0,
        "favorite_count": 0,
        "entities": entities,
        "favorited": False,
        "retweeted": False,
        "filter_level": "low",
        "lang": "en",
        "timestamp_ms": "1795608930000",
    }
    if items:
        entities["media"] = [dict(items[0], type="photo")]  # entities.media: first item only, always "photo"
        post["extended_entities"] = {"media": items}
        post["possibly_sensitive"] = False
    return post


def truncated(post: dict, full_text: str) -> dict:
    """The same post as X sends one over 140 characters: the rest lives in extended_tweet."""
    post = copy.deepcopy(post)
    post["extended_tweet"] = {
        "full_text": full_text,
        "display_text_range": [0, len(full_text)],
        "entities": post["entities"],
    }
    if "extended_entities" in post:
        post["extended_tweet"]["extended_entities"] = post.pop("extended_entities")
    post["entities"] = {
        "hashtags": [],
        "urls": [{"url": "https://t.co/more", "expanded_url": f"https://x.com/i/web/status/{post['id_str']}"}],
        "symbols": [],
        "user_mentions": [],
    }
    post["text"] = full_text[:113] + "… https://t.co/more"
    post["truncated"] = True
    return post


def delivery(*posts: dict, for_user_id: str = BOT_ID, **other_events: Any) -> dict:
    body: dict[str, Any] = {"for_user_id": for_user_id}
    if posts:
        body["tweet_create_events"] = list(posts)
    body.update(other_events)
    return body


def delete_event(tweet_id: str, user_id: str = AUTHOR_ID) -> dict:
    return {"status": {"id": tweet_id, "user_id": user_id}, "timestamp_ms": "1795609000000"}


# --- X Activity API (XAA) deliveries: {"data": {event_uuid, filter, event_type, tag, payload, includes}} ---
# Shaped after X's documented samples (docs.x.com/x-api/activity/event-payloads): the payload
# is a v2 Post, `includes` carries users and referenced posts but no media, so photos are
# only named by their media keys.


def v2_user(user_id: str = AUTHOR_ID, username: str = AUTHOR_NAME) -> dict:
    return {"id": user_id, "name": username.title(), "username": username}


def media_key(tweet_id: str, index: int = 0) -> str:
    return f"3_{1700000000000000000 + int(tweet_id[-6:] or 0) * 10 + index}"


def v2_media(key: str, kind: str = "photo", url: str | None = None) -> dict:
    """A v2 Media object as GET /2/tweets answers it: a photo's `url`, a GIF's or video's `preview_image_url`."""
    number = key.split("_", 1)[-1]
    item: dict[str, Any] = {"media_key": key, "type": kind, "width": 2048, "height": 1536}
    if kind == "photo":
        item["url"] = url or f"https://pbs.twimg.com/media/img{number}.jpg"
    else:
        thumb = "tweet_video_thumb" if kind == "animated_gif" else "ext_tw_video_thumb"
        item["preview_image_url"] = url or f"https://pbs.twimg.com/{thumb}/img{number}.jpg"
    return item


def v2_post(
    *,
    text: str | None = None,
    photos: int = 1,
    author_id: str = AUTHOR_ID,
    author_name: str = AUTHOR_NAME,
    mention_bot: bool = True,
    tweet_id: str | None = None,
    replied_to: tuple[str, str] | None = None,
    quoted: str | None = None,
    note: str | None = None,
    created_at: str = "2026-11-25T10:15:30.000Z",
    bot_id: str = BOT_ID,
    bot_name: str = BOT_NAME,
) -> dict:
    """A v2 Post as X Activity delivers it. replied_to: (post id, its author's id); quoted: a post id;
    note: the full text of a long post (note_tweet), `text` being its first 280 characters."""
    tweet_id = tweet_id or next_id()
    text = text if text is not None else (f"@{bot_name} what is on this? https://t.co/abcDEF1234" if mention_bot else "look at this")
    full = note or text
    mentions = []
    if mention_bot and f"@{bot_name}" in full:
        start = full.find(f"@{bot_name}")
        mentions.append({"start": start, "end": start + 1 + len(bot_name), "username": bot_name, "id": bot_id})
    post: dict[str, Any] = {
        "public_metrics": {
            "retweet_count": 0,
            "reply_count": 0,
            "like_count": 0,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 0,
        },
        "lang": "en",
        "created_at": created_at,
        "author_id": author_id,
        "reply_settings": "everyone",
        "display_text_range": [0, len(text)],
        "paid_partnership": False,
        "id": tweet_id,
        "possibly_sensitive": False,
        "edit_history_tweet_ids": [tweet_id],
        "conversation_id": replied_to[0] if replied_to else tweet_id,
        "text": text,
        "entities": {"mentions": mentions} if mentions else {},
    }
    if note is not None:
        post["text"] = note[:280]
        post["display_text_range"] = [0, len(post["text"])]
        post["note_tweet"] = {"text": note, "entities": {"mentions": mentions}}
    if photos:
        post["attachments"] = {"media_keys": [media_key(tweet_id, i) for i in range(photos)]}
    references = []
    if replied_to:
        references.append({"type": "replied_to", "id": replied_to[0]})
        post["in_reply_to_user_id"] = replied_to[1]
    if quoted:
        references.append({"type": "quoted", "id": quoted})
    if references:
        post["referenced_tweets"] = references
    return post


def activity_delivery(
    post: dict | None = None,
    *,
    event_type: str = "post.mention.create",
    for_user_id: str = BOT_ID,
    users: list[dict] | None = None,
    tweets: list[dict] | None = None,
    media: list[dict] | None = None,
    payload: dict | None = None,
    event_uuid: str | None = None,
) -> dict:
    """One XAA delivery of `post` (or of `payload`, for other event types); includes.users holds its author."""
    body = payload if payload is not None else (post or {})
    includes: dict[str, Any] = {}
    if post is not None:
        includes["users"] = (
            users if users is not None else [v2_user(post["author_id"], AUTHOR_NAME if post["author_id"] == AUTHOR_ID else "someone")]
        )
    if tweets:
        includes["tweets"] = tweets
    if media:
        includes["media"] = media
    return {
        "data": {
            "event_uuid": event_uuid or next_id(),
            "filter": {"user_id": for_user_id},
            "event_type": event_type,
            "tag": "imagebot mentions",
            "payload": body,
            "includes": includes,
        }
    }


def activity_delete(tweet_id: str, author_id: str = AUTHOR_ID, for_user_id: str = BOT_ID) -> dict:
    return activity_delivery(event_type="post.delete", payload={"id": tweet_id, "author_id": author_id}, for_user_id=for_user_id)


def replay_done(job_id: str, webhook_id: str = "1800000000000000001", state: str = "Complete") -> dict:
    """X's event at the end of a replay job."""
    return {
        "replay_job_status": {
            "webhook_id": webhook_id,
            "job_id": job_id,
            "job_state": state,
            "job_state_description": "All events for this job have been delivered",
        }
    }
