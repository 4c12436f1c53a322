"""Opting out: a person who writes "stop" to the bot is never answered again, until "start".

X's rules for automated accounts ask that people can make a bot leave them alone. A post
addressed to the bot whose words, once its @mentions are left out, are exactly one of
STOP_WORDS opts its author out; one of START_WORDS opts them back in. Neither is answered.
An opted-out author's posts are recorded, skipped with the reason, and nothing of theirs
is ever downloaded (checked when the post is processed, before its photos are fetched).

Each person has one OptOut row, changed only by a newer post of theirs, so a "stop" and a
"start" arriving out of order (a replay, the reconcile) end as the later post says.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from bot.events import TweetEvent
from bot.events.values import x_id_order
from bot.models import OptOut

logger = logging.getLogger(__name__)

STOP_WORDS = frozenset({"stop", "unsubscribe", "opt out", "optout", "opt-out", "leave me alone"})
START_WORDS = frozenset({"start", "unstop", "opt in", "optin", "opt-in"})
OPTED_OUT_REASON = "its author opted out (wrote stop)"

_MENTION = re.compile(r"(?<![\w@])@\w{1,15}")
_EDGE_PUNCTUATION = " \t\r\n.!?,;:…'\"()"


@dataclass(frozen=True)
class OptOutEntry:
    """One person's opt-out as operators see it."""

    author_x_id: str
    author_username: str
    opted_out: bool
    word: str
    changed_by_x_id: str


def opt_word(text: str) -> str:
    """The text's opt-out or opt-in word ("stop", "start"), or "" when it is any other text."""
    words = " ".join(_MENTION.sub(" ", text).split()).strip(_EDGE_PUNCTUATION).casefold()
    return words if words in STOP_WORDS or words in START_WORDS else ""


def tweet_opt_word(event: TweetEvent) -> str:
    """The "stop" or "start" of a post addressed to the bot by someone else ("" for any other post)."""
    if not event.author_x_id:
        return ""
    addressed = event.mentions_bot or event.replies_to_bot or event.quotes_bot
    return opt_word(event.text) if addressed and not event.is_own else ""


def opt_word_reason(word: str) -> str:
    """Why a post of this opt word is not answered ("" for none).

    A "stop" or "start" addressed to the bot changes its author's choice and is not answered.
    Whether the author opted out earlier is not looked up while a post is recorded but when it
    is processed (tweet_process), before anything of theirs is downloaded: one look-up, at the
    latest moment, and none on the webhook's answer.
    """
    if not word:
        return ""
    return f"its author opted {'out' if word in STOP_WORDS else 'back in'} ({word})"


def tweet_opt_word_apply(event: TweetEvent, word: str) -> None:
    """The post just recorded says stop or start (tweet_opt_word): its author's choice changes."""
    optout_set(event.author_x_id, opted_out=word in STOP_WORDS, word=word, by_x_id=event.x_id, username=event.author_username)


def author_opted_out(author_x_id: str) -> bool:
    return bool(author_x_id) and OptOut.objects.filter(author_x_id=author_x_id, opted_out=True).exists()


def authors_opted_out(author_x_ids: Iterable[str]) -> set[str]:
    """Which of these people opted out, in one query."""
    wanted = {author for author in author_x_ids if author}
    if not wanted:
        return set()
    return set(OptOut.objects.filter(author_x_id__in=wanted, opted_out=True).values_list("author_x_id", flat=True))


def optout_set(author_x_id: str, *, opted_out: bool, word: str, by_x_id: str, username: str = "") -> bool:
    """Record a person's choice, unless a newer post of theirs already decided. Returns whether it changed the row."""
    values = {"opted_out": opted_out, "word": word[:40], "changed_by_x_id": by_x_id, "author_username": username[:50]}
    try:
        with transaction.atomic():
            OptOut.objects.create(author_x_id=author_x_id, **values)
    except IntegrityError:
        with transaction.atomic():
            row = OptOut.objects.select_for_update().get(author_x_id=author_x_id)
            if x_id_order(row.changed_by_x_id) >= x_id_order(by_x_id):
                return False
            OptOut.objects.filter(pk=row.pk).update(**values)
    logger.info("author %s opted %s with post %s", author_x_id, "out" if opted_out else "back in", by_x_id)
    return True


def optout_list(*, opted_out_only: bool = True) -> list[OptOutEntry]:
    """Who opted out (and, with opted_out_only=False, who opted back in), newest change first."""
    rows = OptOut.objects.all() if not opted_out_only else OptOut.objects.filter(opted_out=True)
    return [
        OptOutEntry(row.author_x_id, row.author_username, row.opted_out, row.word, row.changed_by_x_id)
        for row in rows.order_by("-updated_at")
    ]


def optout_create(author_x_id: str, *, username: str = "", by_x_id: str = "") -> None:
    """An operator opts a person out (they asked some other way). Only a newer "start" post of theirs undoes it."""
    optout_set(author_x_id, opted_out=True, word="by an operator", by_x_id=by_x_id or _x_id_now(), username=username)


def _x_id_now() -> str:
    """An X id of this moment (X's ids are snowflakes: milliseconds since X's epoch, shifted by 22 bits)."""
    return str((int(time.time() * 1000) - 1288834974657) << 22)


def optout_delete(author_x_id: str) -> bool:
    """An operator forgets a person's opt-out: they are answered again. Returns whether there was one."""
    deleted, _ = OptOut.objects.filter(author_x_id=author_x_id).delete()
    return bool(deleted)
