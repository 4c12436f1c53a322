"""Turn a delivery body into plain event objects.

Nothing here knows about Django or the database. The rest of the bot sees only the
dataclasses below, so another payload format (the X Activity API) can be added as
one more parser beside the Account Activity one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

MAX_PHOTOS = 4
MAX_URL_LENGTH = 1000  # Photo.source_url; X's media URLs are far shorter


@dataclass(frozen=True)
class PhotoRef:
    position: int
    url: str
    media_type: str  # photo, animated_gif or video
    media_key: str = ""

    @property
    def is_thumbnail(self) -> bool:
        """For a GIF or a video, media_url_https is only the still X made of it."""
        return self.media_type != "photo"


@dataclass(frozen=True)
class PostEvent:
    tweet_id: str
    author_id: str
    author_username: str
    text: str
    posted_at: datetime | None = None
    in_reply_to_tweet_id: str = ""
    in_reply_to_user_id: str = ""
    photos: tuple[PhotoRef, ...] = ()
    is_own: bool = False
    is_repost: bool = False
    is_quote: bool = False
    mentions_bot: bool = False
    replies_to_bot: bool = False
    quotes_bot: bool = False

    @property
    def skip_reason(self) -> str:
        """Why the bot does not answer this post, or "" when it should."""
        if self.is_own:
            return "own post"
        if self.is_repost:
            return "repost"
        if not (self.mentions_bot or self.replies_to_bot or self.quotes_bot):
            return "not addressed to the bot"
        return ""


@dataclass(frozen=True)
class PostDeleteEvent:
    tweet_id: str
    user_id: str = ""


@dataclass(frozen=True)
class OtherEvent:
    kind: str
    count: int = 1


Event = PostEvent | PostDeleteEvent | OtherEvent


@dataclass(frozen=True)
class ParsedDelivery:
    for_user_id: str
    events: tuple[Event, ...] = ()
    kinds: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def posts(self) -> tuple[PostEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, PostEvent))

    @property
    def deletions(self) -> tuple[PostDeleteEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, PostDeleteEvent))


def parse_delivery(payload: dict[str, Any], *, bot_user_id: str = "") -> ParsedDelivery:
    """Parse any payload X sends; a format we do not know yields no events, not an error.

    `bot_user_id` stands in for a missing `for_user_id` (the account the delivery is for).
    """
    if "for_user_id" in payload or any(key.endswith("_events") for key in payload):
        return parse_account_activity(payload, bot_user_id=bot_user_id)
    return ParsedDelivery(for_user_id="", kinds=("unknown",))


# --- Account Activity API (v1.1 post objects) --------------------------------------


def parse_account_activity(payload: dict[str, Any], *, bot_user_id: str = "") -> ParsedDelivery:
    bot_id = _id(payload.get("for_user_id")) or _id(bot_user_id)
    events: list[Event] = []
    kinds: list[str] = []
    problems: list[str] = []
    for key, value in payload.items():
        if key == "for_user_id" or key == "user_has_blocked":
            continue
        kinds.append(_text(key, 100))
        items = _list(value) if isinstance(value, list) else [value]
        if key == "tweet_create_events":
            for index, item in enumerate(items):
                post = _post(item, bot_id)
                if post is None:
                    problems.append(f"tweet_create_events[{index}]: no usable id")
                else:
                    events.append(post)
        elif key == "tweet_delete_events":
            for index, item in enumerate(items):
                status = item.get("status") if isinstance(item, dict) else None
                tweet_id = _id(status.get("id_str") or status.get("id")) if isinstance(status, dict) else ""
                if tweet_id:
                    events.append(PostDeleteEvent(tweet_id=tweet_id, user_id=_id(status.get("user_id_str") or status.get("user_id"))))
                else:
                    problems.append(f"tweet_delete_events[{index}]: no usable id")
        else:
            events.append(OtherEvent(kind=_text(key, 100), count=len(items)))
    return ParsedDelivery(for_user_id=bot_id, events=tuple(events), kinds=tuple(kinds), problems=tuple(problems))


def _post(tweet: Any, bot_id: str) -> PostEvent | None:
    if not isinstance(tweet, dict):
        return None
    tweet_id = _id(tweet.get("id_str") or tweet.get("id"))
    if not tweet_id:
        return None
    user = _dict(tweet.get("user"))
    author_id = _id(user.get("id_str") or user.get("id"))
    # A truncated post keeps its full text, entities and photos in extended_tweet.
    extended = _dict(tweet.get("extended_tweet")) if tweet.get("truncated") or "extended_tweet" in tweet else {}
    source = extended or tweet
    text = source.get("full_text") or tweet.get("full_text") or tweet.get("text")
    entities = _dict(source.get("entities"))
    in_reply_to_user_id = _id(tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id"))
    quoted_user = _dict(_dict(tweet.get("quoted_status")).get("user"))
    return PostEvent(
        tweet_id=tweet_id,
        author_id=author_id,
        author_username=_text(user.get("screen_name"), 50),
        text=_text(text, 100_000),
        posted_at=_created_at(tweet.get("created_at")),
        in_reply_to_tweet_id=_id(tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")),
        in_reply_to_user_id=in_reply_to_user_id,
        photos=_photos(source, entities),
        is_own=bool(bot_id) and author_id == bot_id,
        is_repost="retweeted_status" in tweet,
        is_quote=bool(tweet.get("is_quote_status") or "quoted_status" in tweet),
        mentions_bot=bool(bot_id) and _mentions(entities, source.get("display_text_range"), bot_id),
        replies_to_bot=bool(bot_id) and in_reply_to_user_id == bot_id,
        quotes_bot=bool(bot_id) and _id(quoted_user.get("id_str") or quoted_user.get("id")) == bot_id,
    )


def _mentions(entities: dict, display_text_range: Any, bot_id: str) -> bool:
    """An explicit @mention: in the text the author wrote, not in the reply prefix X adds."""
    first = display_text_range[0] if isinstance(display_text_range, list) and display_text_range else 0
    start = first if isinstance(first, int) else 0
    for mention in _list(entities.get("user_mentions")):
        if not isinstance(mention, dict) or _id(mention.get("id_str") or mention.get("id")) != bot_id:
            continue
        indices = mention.get("indices")
        if not (isinstance(indices, list) and indices and isinstance(indices[0], int)) or indices[0] >= start:
            return True
    return False


def _photos(source: dict, entities: dict) -> tuple[PhotoRef, ...]:
    # extended_entities lists every item with its real type; entities.media only the first, always "photo".
    media = _list(_dict(source.get("extended_entities")).get("media")) or _list(entities.get("media"))
    photos = []
    for item in media:
        if not isinstance(item, dict):
            continue
        url = item.get("media_url_https") or item.get("media_url")
        if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or _storable(url) != url:
            continue
        media_type = item.get("type") if item.get("type") in ("photo", "animated_gif", "video") else "photo"
        photos.append(
            PhotoRef(position=len(photos), url=url, media_type=media_type, media_key=_text(item.get("media_key") or item.get("id_str"), 40))
        )
        if len(photos) == MAX_PHOTOS:
            break
    return tuple(photos)


def _id(value: Any) -> str:
    """Ids as strings: id_str where X gives one (ids exceed 53 bits); bools and junk are no id."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return value
    return ""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int) -> str:
    """A string field as we keep it: text only (not a number or an object), within its column.

    JSON can carry what no database column takes: lone surrogates (half an emoji) become
    U+FFFD and NUL characters are dropped.
    """
    if not isinstance(value, str):
        return ""
    return _storable(value)[:limit]


def _storable(value: str) -> str:
    if value.isascii() and "\x00" not in value:
        return value
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")


def _created_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parsedate_to_datetime(value)
        # In UTC: databases refuse far-out offsets; far-out years overflow here instead.
        return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
