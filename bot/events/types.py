"""The plain events every payload format is parsed into.

Nothing here knows about Django or the database. X's ids are strings named `*x_id`
(ids exceed 53 bits, and a name ending in `_x_id` is never a Django foreign key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
class TweetEvent:
    x_id: str
    author_x_id: str
    author_username: str
    text: str
    posted_at: datetime | None = None
    in_reply_to_x_id: str = ""
    in_reply_to_user_x_id: str = ""
    photos: tuple[PhotoRef, ...] = ()
    is_own: bool = False
    is_repost: bool = False
    is_quote: bool = False
    mentions_bot: bool = False
    replies_to_bot: bool = False
    quotes_bot: bool = False
    quoted_x_id: str = ""
    # Media the post names (X Activity's attachments.media_keys) without saying where they
    # are: its photos are looked up on X before fetching (bot.services.hydrating).
    media_keys_missing: tuple[str, ...] = ()

    @property
    def needs_media_lookup(self) -> bool:
        """Its photos, or those of the post it quotes or answers, are to be looked up on X.

        A post that names media without saying where they are needs its own looked up (those
        it did carry are kept); one with all its photos needs nothing more; one without may
        point at another post's ("@bot what is this?" under a picture); the bot's own posts
        have none.
        """
        if self.media_keys_missing:
            return True
        if self.photos:
            return False
        return bool(self.quoted_x_id or (self.in_reply_to_x_id and not self.replies_to_bot))

    @property
    def skip_reason(self) -> str:
        """Why the bot does not answer this tweet, or "" when it should."""
        if self.is_own:
            return "own tweet"
        if self.is_repost:
            return "repost"
        if not (self.mentions_bot or self.replies_to_bot or self.quotes_bot):
            return "not addressed to the bot"
        return ""


@dataclass(frozen=True)
class TweetDeleteEvent:
    x_id: str
    author_x_id: str = ""


@dataclass(frozen=True)
class OtherEvent:
    kind: str
    count: int = 1


@dataclass(frozen=True)
class ReplayDoneEvent:
    """X finished a replay job (POST /2/webhooks/replay): every event of its window was re-sent."""

    job_id: str
    state: str  # X's job_state, "Complete" when it went well
    description: str = ""


Event = TweetEvent | TweetDeleteEvent | ReplayDoneEvent | OtherEvent


@dataclass(frozen=True)
class ParsedDelivery:
    for_user_x_id: str
    events: tuple[Event, ...] = ()
    kinds: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())
    event_uuid: str = ""  # X Activity's id of this delivery of an event

    @property
    def replays_done(self) -> tuple[ReplayDoneEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, ReplayDoneEvent))

    @property
    def tweets(self) -> tuple[TweetEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, TweetEvent))

    @property
    def deletions(self) -> tuple[TweetDeleteEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, TweetDeleteEvent))
