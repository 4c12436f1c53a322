"""The X Activity API's deliveries (XAA): `{"data": {event_uuid, event_type, filter, tag, payload, includes}}`.

The payload of a post event (post.mention.create, post.reply.create, post.quote.create,
post.create) is a v2 Post; post.delete's is `{id, author_id}`; every other event type is
kept as an OtherEvent. X's documented samples carry no `media` in `includes`, so a post's
`attachments.media_keys` often name photos without their URLs: the event says so
(`media_keys_missing`) and processing looks them up (bot.services.hydrating).

The v2 Post reader (`post_event`, `posts_photos`) is shared with what the bot reads back
from X itself: GET /2/tweets (hydration) and GET /2/users/{id}/mentions (reconcile).
X's answers say `referenced_tweets` and `note_tweet`; its OpenAPI document says
`referenced_posts` and `note_post`: both are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.events.types import MAX_PHOTOS, MAX_URL_LENGTH, Event, OtherEvent, ParsedDelivery, PhotoRef, TweetDeleteEvent, TweetEvent
from bot.events.values import read_dict, read_id, read_iso_datetime, read_list, read_text, storable

# The event types whose payload is a post the bot may answer.
POST_EVENT_TYPES = frozenset({"post.mention.create", "post.reply.create", "post.quote.create", "post.create"})
POST_DELETE = "post.delete"
MAX_EVENTS = 100  # one delivery carries one event; a list of them is read up to this many


def looks_like(payload: dict[str, Any]) -> bool:
    """Whether a payload is in this format: a `data` envelope with an event type or a payload."""
    data = payload.get("data")
    envelopes = data if isinstance(data, list) else [data]
    return any(isinstance(item, dict) and ("event_type" in item or "payload" in item) for item in envelopes)


def parse(payload: dict[str, Any], *, bot_user_id: str = "") -> ParsedDelivery:
    data = payload.get("data")
    envelopes = [read_dict(item) for item in (read_list(data) if isinstance(data, list) else [data])][:MAX_EVENTS]
    events: list[Event] = []
    kinds: list[str] = []
    problems: list[str] = []
    for_user = ""
    uuids: list[str] = []
    for index, envelope in enumerate(envelopes):
        where = f"data[{index}]" if isinstance(data, list) else "data"
        event_type = read_text(envelope.get("event_type"), 100)
        kinds.append(event_type or "unknown")
        filter_user = read_id(read_dict(envelope.get("filter")).get("user_id"))
        for_user = for_user or filter_user
        uuid = read_text(envelope.get("event_uuid"), 64) or (str(envelope["event_uuid"]) if _is_int(envelope.get("event_uuid")) else "")
        if uuid:
            uuids.append(uuid)
        bot_id = read_id(bot_user_id) or filter_user
        body = read_dict(envelope.get("payload"))
        if event_type in POST_EVENT_TYPES:
            tweet = post_event(body, read_dict(envelope.get("includes")), bot_id=bot_id, event_type=event_type, filter_user=filter_user)
            if tweet is None:
                problems.append(f"{where}.payload: no usable post id")
            else:
                events.append(tweet)
        elif event_type == POST_DELETE:
            post_id = read_id(body.get("id"))
            if post_id:
                events.append(TweetDeleteEvent(x_id=post_id, author_x_id=read_id(body.get("author_id"))))
            else:
                problems.append(f"{where}.payload: no usable post id")
        else:
            events.append(OtherEvent(kind=event_type or "unknown"))
    return ParsedDelivery(
        for_user_x_id=for_user or read_id(bot_user_id),
        events=tuple(events),
        kinds=tuple(kinds),
        problems=tuple(problems),
        event_uuid=",".join(uuids)[:200],
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**64


# --- The v2 Post ---------------------------------------------------------------------


def post_event(post: Any, includes: dict, *, bot_id: str, event_type: str = "", filter_user: str = "") -> TweetEvent | None:
    """A v2 Post (with the answer's `includes`) as a TweetEvent; None without a usable id.

    event_type/filter_user: an X Activity event for the bot's own filter says why it
    fired (a mention, a reply to the bot, a quote of it) even where the post's own
    fields are missing.
    """
    if not isinstance(post, dict):
        return None
    post_id = read_id(post.get("id"))
    if not post_id:
        return None
    author_id = read_id(post.get("author_id"))
    note = read_dict(post.get("note_tweet")) or read_dict(post.get("note_post"))
    text = note.get("text") if isinstance(note.get("text"), str) else post.get("text")
    entities = read_dict(note.get("entities")) if note.get("entities") else read_dict(post.get("entities"))
    references = _references(post)
    in_reply_to = references.get("replied_to", "")
    quoted = references.get("quoted", "")
    in_reply_to_user = read_id(post.get("in_reply_to_user_id"))
    posts = _included_posts(includes)
    if not in_reply_to_user and in_reply_to:
        in_reply_to_user = read_id(read_dict(posts.get(in_reply_to)).get("author_id"))
    quoted_user = read_id(read_dict(posts.get(quoted)).get("author_id")) if quoted else ""
    photos, missing = _photos(post, _included_media(includes))
    for_bot = bool(bot_id) and filter_user == bot_id
    return TweetEvent(
        x_id=post_id,
        author_x_id=author_id,
        author_username=read_text(post.get("username"), 50) or _username(includes, author_id),
        text=read_text(text, 100_000),
        posted_at=read_iso_datetime(post.get("created_at")),
        in_reply_to_x_id=in_reply_to,
        in_reply_to_user_x_id=in_reply_to_user,
        photos=photos,
        is_own=bool(bot_id) and author_id == bot_id,
        is_repost="retweeted" in references or "reposted" in references,
        is_quote=bool(quoted),
        mentions_bot=bool(bot_id)
        and (_mentions(entities, post.get("display_text_range"), bot_id) or (for_bot and event_type == "post.mention.create")),
        replies_to_bot=bool(bot_id) and (in_reply_to_user == bot_id or (for_bot and event_type == "post.reply.create")),
        quotes_bot=bool(bot_id) and (quoted_user == bot_id or (for_bot and event_type == "post.quote.create")),
        quoted_x_id=quoted,
        media_keys_missing=missing,
    )


def _references(post: dict) -> dict[str, str]:
    """{"replied_to": id, "quoted": id, ...}: the first post of each kind this one refers to."""
    found: dict[str, str] = {}
    for item in read_list(post.get("referenced_tweets")) or read_list(post.get("referenced_posts")):
        if not isinstance(item, dict):
            continue
        kind, ref_id = read_text(item.get("type"), 20), read_id(item.get("id"))
        if kind and ref_id:
            found.setdefault(kind, ref_id)
    return found


def _included_posts(includes: dict) -> dict[str, dict]:
    items = read_list(includes.get("tweets")) or read_list(includes.get("posts"))
    return {read_id(item.get("id")): item for item in items if isinstance(item, dict) and read_id(item.get("id"))}


def _included_media(includes: dict) -> dict[str, dict]:
    return {
        key: item for item in read_list(includes.get("media")) if isinstance(item, dict) and (key := read_text(item.get("media_key"), 40))
    }


def _username(includes: dict, user_id: str) -> str:
    if not user_id:
        return ""
    for user in read_list(includes.get("users")):
        if isinstance(user, dict) and read_id(user.get("id")) == user_id:
            return read_text(user.get("username"), 50)
    return ""


def _mentions(entities: dict, display_text_range: Any, bot_id: str) -> bool:
    """An explicit @mention in the text the author wrote, not in the reply prefix X adds."""
    first = display_text_range[0] if isinstance(display_text_range, list) and display_text_range else 0
    start = first if isinstance(first, int) and not isinstance(first, bool) else 0
    for mention in read_list(entities.get("mentions")):
        if not isinstance(mention, dict) or read_id(mention.get("id")) != bot_id:
            continue
        at = mention.get("start")
        if not isinstance(at, int) or isinstance(at, bool) or at >= start:
            return True
    return False


def _photos(post: dict, media: dict[str, dict]) -> tuple[tuple[PhotoRef, ...], tuple[str, ...]]:
    """The post's photos whose URLs the answer carries, and the media keys it names without them.

    A photo's position is its key's place in the post's media_keys, whichever answer gave its
    URL: the ones a delivery carried and the ones looked up later (hydrating) fit together."""
    keys = [read_text(key, 40) for key in read_list(read_dict(post.get("attachments")).get("media_keys"))]
    photos: list[PhotoRef] = []
    missing: list[str] = []
    for position, key in enumerate(dict.fromkeys(key for key in keys if key)):
        if len(photos) + len(missing) == MAX_PHOTOS:
            break
        item = media.get(key)
        if item is None:
            missing.append(key)
            continue
        ref = media_ref(item, position=position)
        if ref is not None:
            photos.append(ref)
    return tuple(photos), tuple(missing)


def media_ref(item: dict, *, position: int) -> PhotoRef | None:
    """One v2 Media object as a PhotoRef: a photo's `url`, a GIF's or video's still (`preview_image_url`)."""
    kind = item.get("type")
    media_type = kind if kind in ("photo", "animated_gif", "video") else "photo"
    url = item.get("url") if media_type == "photo" else item.get("preview_image_url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or storable(url) != url:
        return None
    return PhotoRef(position=position, url=url, media_type=media_type, media_key=read_text(item.get("media_key"), 40))


@dataclass(frozen=True)
class PostPhotos:
    """What an answer of X's says about one post: who wrote it and its photos."""

    x_id: str
    author_x_id: str
    author_username: str
    photos: tuple[PhotoRef, ...]


def posts_photos(answer: dict) -> dict[str, PostPhotos]:
    """Every post in a GET /2/tweets answer (`data` plus `includes`), by X id, with the photos
    the answer's `includes.media` gives it. Junk posts are left out."""
    includes = read_dict(answer.get("includes"))
    media = _included_media(includes)
    found: dict[str, PostPhotos] = {}
    for post in read_list(answer.get("data")):
        if not isinstance(post, dict) or not (post_id := read_id(post.get("id"))):
            continue
        photos, _missing = _photos(post, media)
        author_id = read_id(post.get("author_id"))
        found[post_id] = PostPhotos(
            x_id=post_id,
            author_x_id=author_id,
            author_username=read_text(post.get("username"), 50) or _username(includes, author_id),
            photos=photos,
        )
    return found
