"""Recording deliveries: every validly signed POST, and every tweet in it, in one transaction.

A tweet has a unique X id, so a redelivery, a concurrent copy or a replay creates
nothing and dispatches nothing. New tweets that summon the bot are dispatched for
processing once the transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from bot import conf, dispatch
from bot.events import ParsedDelivery, TweetDeleteEvent, TweetEvent, parse_delivery, payload_load
from bot.events.values import x_id_order
from bot.inserting import Insert, transaction_of_inserts
from bot.models import Delivery, Tweet
from bot.services import opting, replaying
from bot.services.errors import RecordingFailed
from bot.services.photos import photos_insert
from bot.services.processing import tweet_process
from bot.services.storage import tweet_photos_delete
from bot.writer import one_writer

logger = logging.getLogger(__name__)

MAX_DETAIL = 4000  # characters of Delivery.detail
MAX_KINDS_KEPT = 100


def delivery_record_invalid(*, body: bytes, detail: str) -> Delivery:
    return Delivery.objects.create(body=body, size=len(body), outcome=Delivery.Outcome.INVALID, detail=detail[:1000])


def delivery_record(*, body: bytes, payload: dict) -> Delivery:
    """Record a validly signed delivery and every tweet in it, in one transaction.

    New tweets that summon the bot are dispatched for processing after commit, once;
    a tweet we already have creates nothing and dispatches nothing.
    """
    try:
        parsed = parse_delivery(payload, bot_user_id=conf.x_bot_user_id())
        delivery, writes = _delivery_record(body, parsed)
    except Exception as exc:
        # Our failure, not the sender's: keep the delivery (it can be replayed) and let X retry.
        logger.exception("could not record a delivery of %d bytes", len(body))
        failed = Delivery.objects.create(
            body=body,
            size=len(body),
            outcome=Delivery.Outcome.FAILED,
            detail=f"could not record it: {type(exc).__name__}: {exc}"[:MAX_DETAIL],
        )
        raise RecordingFailed(failed.pk) from exc
    try:
        _known_taken_over(writes)
    except Exception as exc:
        # The delivery and its posts are committed; X's retry finds the post known and takes it over then.
        logger.exception("delivery %s is recorded, but a known post could not be taken over", delivery.pk)
        raise RecordingFailed(delivery.pk) from exc
    return delivery


def _delivery_record(body: bytes, parsed: ParsedDelivery) -> tuple[Delivery, list[_NewTweet | TweetDeleteEvent]]:
    """One transaction: the delivery and its tweets, each tweet an insert that writes nothing when it is known.

    The rows are prepared before the transaction opens, which then only writes them: on
    SQLite it is the one writer at a time (bot.writer), and the other writers wait for it."""
    delivery, delivery_insert, writes = delivery_rows_prepare(body, parsed=parsed)
    # Most deliveries only insert rows (no deletion, no replay finished, no stop or start):
    # their transaction runs the Inserts alone, as cheaply as it can (see transaction_of_inserts).
    words = any(isinstance(write, _NewTweet) and write.opt_word for write in writes)
    only_inserts = not parsed.deletions and not parsed.replays_done and not words
    with dispatch.dispatches_held(), one_writer(), transaction_of_inserts(only_inserts=only_inserts) as cursor:
        delivery_insert.run(cursor)
        for write in writes:
            if isinstance(write, TweetDeleteEvent):
                tweet_mark_deleted(write.x_id, delivery=delivery, author_x_id=write.author_x_id)
            else:
                write.record(cursor)
        for done in parsed.replays_done:
            replaying.replay_job_finished(done)
    return delivery, writes


def delivery_rows_prepare(body: bytes, *, parsed: ParsedDelivery) -> tuple[Delivery, Insert, list[_NewTweet | TweetDeleteEvent]]:
    """A delivery's rows, ready to write: its Delivery and that one's Insert, and its posts'
    (a deletion as it came), in the order they are written. Nothing is written yet."""
    delivery = Delivery(
        body=body,
        size=len(body),
        outcome=Delivery.Outcome.RECORDED,
        for_user_x_id=parsed.for_user_x_id,
        event_kinds=list(parsed.kinds[:MAX_KINDS_KEPT]),
        detail="; ".join(parsed.problems)[:MAX_DETAIL],
        event_uuid=parsed.event_uuid,
    )
    delivery_insert = Insert([delivery])
    # Every tweet's row in one order (a creation before its deletion), so deliveries
    # sharing tweets cannot deadlock.
    pending: tuple[TweetEvent | TweetDeleteEvent, ...] = (*parsed.tweets, *parsed.deletions)
    events = sorted(pending, key=_id_order)
    writes: list[_NewTweet | TweetDeleteEvent] = [
        event if isinstance(event, TweetDeleteEvent) else _NewTweet.prepare(event, delivery=delivery, for_user_x_id=parsed.for_user_x_id)
        for event in events
    ]
    return delivery, delivery_insert, writes


def _id_order(event: TweetEvent | TweetDeleteEvent) -> tuple[tuple[int, str], bool]:
    return (x_id_order(event.x_id), isinstance(event, TweetDeleteEvent))


def tweets_record_read(events: list[TweetEvent], *, for_user_x_id: str) -> int:
    """Record posts the bot read from X itself (the reconcile), as a delivery's are; returns how many were new.

    A post already recorded, by whatever way it came, creates nothing and dispatches nothing.
    """
    writes = [_NewTweet.prepare(event, delivery=None, for_user_x_id=for_user_x_id) for event in sorted(events, key=_id_order)]
    with dispatch.dispatches_held(), one_writer(), transaction.atomic():
        recorded = sum(write.record() for write in writes)
    _known_taken_over(writes)
    return recorded


def _known_taken_over(writes: Sequence[_NewTweet | TweetDeleteEvent]) -> None:
    """After the commit, the known posts first recorded from another subscribed account's view
    (X sends a copy for each): this account's copy takes an answerable one over, and a "stop"
    or "start" among them changes its author's choice now (that account's copy did not). A post
    known from this account's own view changes nothing (a redelivery or a replay: an old stop
    must not undo an operator's opt-in).

    Looked up outside the transaction, which on SQLite the other writers wait for; each change
    is one of its own. If it fails, the webhook answers 500 and X's retry does it; if the
    process dies first, the reconcile reading the bot's mentions does."""
    for write in writes:
        if not isinstance(write, _NewTweet) or not write.known or (write.reason and not write.opt_word):
            continue
        event, for_user_x_id = write.event, write.tweet.for_user_x_id
        known = _tweet_known(event.x_id)
        if known is None or known[2] == for_user_x_id:
            continue
        if write.opt_word:
            with one_writer():
                opting.tweet_opt_word_apply(event, write.opt_word)
        elif known[1] == Tweet.Status.SKIPPED:
            with dispatch.dispatches_held(), one_writer(), transaction.atomic():
                _tweet_take_over(known[0], event, delivery=write.tweet.delivery, for_user_x_id=for_user_x_id)


def _tweet_known(x_id: str) -> tuple[int, str, str] | None:
    """The known tweet of this X id: (pk, status, for_user_x_id).

    Asked of every redelivery: the query is the ORM's, compiled once (compiling it is 200 µs
    here, running it 15 µs), and run with this X id."""
    alias = router.db_for_read(Tweet)
    with connections[alias].cursor() as cursor:
        cursor.execute(_tweet_known_sql(alias), [x_id])
        row = cursor.fetchone()
    return (row[0], row[1], row[2]) if row is not None else None


@cache
def _tweet_known_sql(alias: str) -> str:
    query = Tweet.objects.using(alias).filter(x_id="?").values_list("pk", "status", "for_user_x_id").query
    sql, params = query.get_compiler(alias).as_sql()
    if params != ("?",):  # the one parameter is the X id
        raise RuntimeError(f"unexpected parameters {params!r} in {sql}")
    return sql


@dataclass
class _NewTweet:
    """A post to record: its Tweet and Photo rows, prepared, and whether it is answered.

    Recorded, it is known already when its X id is: a redelivery, a concurrent copy (which
    committed first), a replay, the reconcile reading it again, or X's copy for another
    subscribed account (see _known_taken_over)."""

    event: TweetEvent
    tweet: Tweet
    tweet_insert: Insert
    photos_insert: Insert | None
    reason: str  # why it is not answered ("" when it is)
    opt_word: str  # its "stop" or "start", applied once it is recorded (or after, see _known_taken_over)
    known: bool = False  # recorded before: record() wrote nothing

    @classmethod
    def prepare(cls, event: TweetEvent, *, delivery: Delivery | None, for_user_x_id: str) -> _NewTweet:
        reason = event.skip_reason or _other_account_reason(for_user_x_id)
        word = "" if reason else opting.tweet_opt_word(event)
        reason = reason or opting.opt_word_reason(word)
        tweet = Tweet(
            x_id=event.x_id,
            delivery=delivery,
            for_user_x_id=for_user_x_id,
            author_x_id=event.author_x_id,
            author_username=event.author_username,
            text=event.text,
            posted_at=event.posted_at,
            in_reply_to_x_id=event.in_reply_to_x_id,
            in_reply_to_user_x_id=event.in_reply_to_user_x_id,
            quoted_x_id=event.quoted_x_id,
            media_lookup=event.needs_media_lookup,
            **_tweet_flags(event),
            status=Tweet.Status.SKIPPED if reason else Tweet.Status.RECEIVED,
            skip_reason=reason,
        )
        return cls(
            event=event,
            tweet=tweet,
            tweet_insert=Insert([tweet], unique="x_id"),
            photos_insert=photos_insert(tweet, event.photos),
            reason=reason,
            opt_word=word,
        )

    def record(self, cursor: Any = None) -> bool:
        """Write the rows, in the transaction; True when the post was new (and dispatched, when it is answered).

        cursor: transaction_of_inserts()'s, for a post without a stop or start word."""
        if not self.tweet_insert.run(cursor):
            self.known = True  # see _known_taken_over
            return False
        if self.opt_word:
            opting.tweet_opt_word_apply(self.event, self.opt_word)
        if self.photos_insert is not None:
            self.photos_insert.run(cursor)
        if not self.reason:
            dispatch.dispatch_on_commit(tweet_process, self.tweet.pk)
        return True


def _tweet_take_over(pk: int, event: TweetEvent, *, delivery: Delivery | None, for_user_x_id: str) -> bool:
    """The bot's own copy of a tweet first recorded, and skipped, from another account's delivery."""
    # Still skipped: a concurrent copy of this delivery may have taken it over meanwhile.
    taken = (
        Tweet.objects.filter(pk=pk)
        .exclude(for_user_x_id=for_user_x_id)
        .move(
            Tweet.Status.SKIPPED,
            Tweet.Status.RECEIVED,
            skip_reason="",
            delivery=delivery,
            for_user_x_id=for_user_x_id,
            **_tweet_flags(event),
        )
    )
    if taken:
        dispatch.dispatch_on_commit(tweet_process, pk)
    return bool(taken)


def _tweet_flags(event: TweetEvent) -> dict[str, bool]:
    """The tweet's flags as Tweet fields; who is "the bot" depends on the delivery's account."""
    return {
        "is_own": event.is_own,
        "is_repost": event.is_repost,
        "is_quote": event.is_quote,
        "mentions_bot": event.mentions_bot,
        "replies_to_bot": event.replies_to_bot,
        "quotes_bot": event.quotes_bot,
    }


def _other_account_reason(for_user_x_id: str) -> str:
    """Why a delivery for another subscribed account is not answered: the bot would reply as itself."""
    bot_user_id = conf.x_bot_user_id()
    if bot_user_id and for_user_x_id and for_user_x_id != bot_user_id:
        return f"delivered for account {for_user_x_id}, but the bot posts as {bot_user_id}"
    return ""


def tweet_mark_deleted(x_id: str, *, delivery: Delivery | None = None, author_x_id: str = "") -> bool:
    """The author deleted the tweet: stop work on it and remove its stored photos.

    With the delivery that says so, a tweet we do not have yet is recorded as deleted, so
    that its creation, delivered late or concurrently, is never answered.
    """
    now = timezone.now()
    pk = Tweet.objects.filter(x_id=x_id).exclude(status=Tweet.Status.DELETED).values_list("pk", flat=True).first()
    if pk is not None:
        marked = Tweet.objects.filter(pk=pk).move(
            (Tweet.Status.RECEIVED, Tweet.Status.PROCESSING, Tweet.Status.DONE, Tweet.Status.FAILED, Tweet.Status.SKIPPED),
            Tweet.Status.DELETED,
            deleted_at=now,
            photos_cleanup=True,
        )
        if marked:
            dispatch.dispatch_on_commit(tweet_photos_delete, pk)
        return bool(marked)
    if delivery is None:
        return False
    deleted = Tweet(
        x_id=x_id,
        delivery=delivery,
        for_user_x_id=delivery.for_user_x_id,
        author_x_id=author_x_id,
        status=Tweet.Status.DELETED,
        deleted_at=now,
        skip_reason="deleted before the tweet itself was delivered",
    )
    if Insert([deleted], unique="x_id").run():
        return True
    # Known after all: deleted already (nothing to do), or its creation was recorded meanwhile.
    return tweet_mark_deleted(x_id)


def delivery_replay(body: bytes) -> Delivery:
    """Record a delivery's body again (a stored delivery's, or one saved to a file).

    Safe to repeat: tweets already known create nothing and dispatch nothing. A body that is
    not a delivery raises PayloadError; one that cannot be recorded, RecordingFailed."""
    return delivery_record(body=body, payload=payload_load(body))
