"""The Account Activity API's payloads (v1.1 tweet objects): `tweet_create_events` and kin.

X marks this format deprecated in favour of the X Activity API; both parse into the
plain events of bot.events.types.
"""

from __future__ import annotations

from typing import Any

from bot.events.types import (
    MAX_PHOTOS,
    MAX_URL_LENGTH,
    Event,
    OtherEvent,
    ParsedDelivery,
    PhotoRef,
    ReplayDoneEvent,
    TweetDeleteEvent,
    TweetEvent,
)
from bot.events.values import read_created_at, read_dict, read_id, read_list, read_text, storable

# The event X sends to the webhook when a replay job (POST /2/webhooks/replay) has re-sent its window:
# {"replay_job_status": {"webhook_id", "job_id", "job_state": "Complete", "job_state_description"}}.
REPLAY_JOB_STATUS = "replay_job_status"


def looks_like(payload: dict[str, Any]) -> bool:
    """Whether a payload is in this format."""
    return "for_user_id" in payload or REPLAY_JOB_STATUS in payload or any(key.endswith("_events") for key in payload)


def parse(payload: dict[str, Any], *, bot_user_id: str = "") -> ParsedDelivery:
    bot_id = read_id(payload.get("for_user_id")) or read_id(bot_user_id)
    events: list[Event] = []
    kinds: list[str] = []
    problems: list[str] = []
    for key, value in payload.items():
        if key == "for_user_id" or key == "user_has_blocked":
            continue
        kinds.append(read_text(key, 100))
        items = read_list(value) if isinstance(value, list) else [value]
        if key == "tweet_create_events":
            for index, item in enumerate(items):
                tweet = _tweet(item, bot_id)
                if tweet is None:
                    problems.append(f"tweet_create_events[{index}]: no usable id")
                else:
                    events.append(tweet)
        elif key == REPLAY_JOB_STATUS:
            for item in items:
                status = read_dict(item)
                job_id = read_id(status.get("job_id"))
                if job_id:
                    events.append(
                        ReplayDoneEvent(
                            job_id=job_id,
                            state=read_text(status.get("job_state"), 40),
                            description=read_text(status.get("job_state_description"), 500),
                        )
                    )
                else:
                    problems.append(f"{REPLAY_JOB_STATUS}: no usable job_id")
        elif key == "tweet_delete_events":
            for index, item in enumerate(items):
                status = read_dict(item.get("status")) if isinstance(item, dict) else {}
                tweet_id = read_id(status.get("id_str") or status.get("id"))
                if tweet_id:
                    events.append(TweetDeleteEvent(x_id=tweet_id, author_x_id=read_id(status.get("user_id_str") or status.get("user_id"))))
                else:
                    problems.append(f"tweet_delete_events[{index}]: no usable id")
        else:
            events.append(OtherEvent(kind=read_text(key, 100), count=len(items)))
    return ParsedDelivery(for_user_x_id=bot_id, events=tuple(events), kinds=tuple(kinds), problems=tuple(problems))


def _tweet(tweet: Any, bot_id: str) -> TweetEvent | None:
    if not isinstance(tweet, dict):
        return None
    tweet_id = read_id(tweet.get("id_str") or tweet.get("id"))
    if not tweet_id:
        return None
    user = read_dict(tweet.get("user"))
    author_id = read_id(user.get("id_str") or user.get("id"))
    # A truncated tweet keeps its full text, entities and photos in extended_tweet.
    extended = read_dict(tweet.get("extended_tweet")) if tweet.get("truncated") or "extended_tweet" in tweet else {}
    source = extended or tweet
    text = source.get("full_text") or tweet.get("full_text") or tweet.get("text")
    entities = read_dict(source.get("entities"))
    in_reply_to_user_id = read_id(tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id"))
    quoted_user = read_dict(read_dict(tweet.get("quoted_status")).get("user"))
    return TweetEvent(
        x_id=tweet_id,
        author_x_id=author_id,
        author_username=read_text(user.get("screen_name"), 50),
        text=read_text(text, 100_000),
        posted_at=read_created_at(tweet.get("created_at")),
        in_reply_to_x_id=read_id(tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")),
        in_reply_to_user_x_id=in_reply_to_user_id,
        photos=_photos(source, entities),
        is_own=bool(bot_id) and author_id == bot_id,
        is_repost="retweeted_status" in tweet,
        is_quote=bool(tweet.get("is_quote_status") or "quoted_status" in tweet),
        mentions_bot=bool(bot_id) and _mentions(entities, source.get("display_text_range"), bot_id),
        replies_to_bot=bool(bot_id) and in_reply_to_user_id == bot_id,
        quotes_bot=bool(bot_id) and read_id(quoted_user.get("id_str") or quoted_user.get("id")) == bot_id,
        quoted_x_id=read_id(tweet.get("quoted_status_id_str") or tweet.get("quoted_status_id")),
    )


def _mentions(entities: dict, display_text_range: Any, bot_id: str) -> bool:
    """An explicit @mention: in the text the author wrote, not in the reply prefix X adds."""
    first = display_text_range[0] if isinstance(display_text_range, list) and display_text_range else 0
    start = first if isinstance(first, int) else 0
    for mention in read_list(entities.get("user_mentions")):
        if not isinstance(mention, dict) or read_id(mention.get("id_str") or mention.get("id")) != bot_id:
            continue
        indices = mention.get("indices")
        if not (isinstance(indices, list) and indices and isinstance(indices[0], int)) or indices[0] >= start:
            return True
    return False


def _photos(source: dict, entities: dict) -> tuple[PhotoRef, ...]:
    # extended_entities lists every item with its real type; entities.media only the first, always "photo".
    media = read_list(read_dict(source.get("extended_entities")).get("media")) or read_list(entities.get("media"))
    photos: list[PhotoRef] = []
    for item in media:
        if not isinstance(item, dict):
            continue
        url = item.get("media_url_https") or item.get("media_url")
        if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or storable(url) != url:
            continue
        kind = item.get("type")
        media_type = kind if kind in ("photo", "animated_gif", "video") else "photo"
        photos.append(
            PhotoRef(
                position=len(photos), url=url, media_type=media_type, media_key=read_text(item.get("media_key") or item.get("id_str"), 40)
            )
        )
        if len(photos) == MAX_PHOTOS:
            break
    return tuple(photos)
