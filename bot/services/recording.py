"""Recording deliveries: every validly signed POST, and every tweet in it, in one transaction.

A tweet has a unique X id, so a redelivery, a concurrent copy or a replay creates
nothing and dispatches nothing. New tweets that summon the bot are dispatched for
processing once the transaction has committed.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from bot import conf, dispatch
from bot.events import ParsedDelivery, TweetDeleteEvent, TweetEvent, parse_delivery, payload_load
from bot.inserting import instances_insert
from bot.models import Delivery, Tweet
from bot.services import opting, replaying
from bot.services.errors import RecordingFailed
from bot.services.photos import photos_record
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
        try:
            # Most deliveries bring tweets we do not have: plain inserts, no savepoints, no look-ups.
            delivery = _delivery_record(body, parsed, careful=False)
        except IntegrityError:
            # One of its tweets is known (a redelivery, X's copy for another account, a
            # concurrent copy): nothing of that try was kept; again, one tweet at a time.
            delivery = _delivery_record(body, parsed, careful=True)
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
    return delivery


def _delivery_record(body: bytes, parsed: ParsedDelivery, *, careful: bool) -> Delivery:
    """One transaction: the delivery and its tweets. careful: tweets already known are looked up
    first, and each new one is inserted behind a savepoint (a concurrent copy may insert it first);
    otherwise each is a plain insert, and a known one raises IntegrityError."""
    with dispatch.dispatches_held(), one_writer(), transaction.atomic():
        delivery = Delivery(
            body=body,
            size=len(body),
            outcome=Delivery.Outcome.RECORDED,
            for_user_x_id=parsed.for_user_x_id,
            event_kinds=list(parsed.kinds[:MAX_KINDS_KEPT]),
            detail="; ".join(parsed.problems)[:MAX_DETAIL],
            event_uuid=parsed.event_uuid,
        )
        instances_insert([delivery])
        known = _known_tweets(parsed.tweets) if careful else {}
        # Every tweet's row in one order (a creation before its deletion), so deliveries
        # sharing tweets cannot deadlock.
        events: tuple[TweetEvent | TweetDeleteEvent, ...] = (*parsed.tweets, *parsed.deletions)
        for event in sorted(events, key=_id_order):
            if isinstance(event, TweetDeleteEvent):
                tweet_mark_deleted(event.x_id, delivery=delivery, author_x_id=event.author_x_id)
            else:
                _tweet_record(event, delivery=delivery, parsed=parsed, known=known.get(event.x_id), careful=careful)
        for done in parsed.replays_done:
            replaying.replay_job_finished(done)
    return delivery


def _known_tweets(events: tuple[TweetEvent, ...]) -> dict[str, tuple[int, str, str]]:
    """The tweets of these events we already have: x_id -> (pk, status, for_user_x_id)."""
    if not events:
        return {}
    rows = Tweet.objects.filter(x_id__in={event.x_id for event in events}).values_list("x_id", "pk", "status", "for_user_x_id")
    return {x_id: (pk, status, for_user) for x_id, pk, status, for_user in rows}


def _id_order(event: TweetEvent | TweetDeleteEvent) -> tuple[int, str, bool]:
    return (len(event.x_id), event.x_id, isinstance(event, TweetDeleteEvent))


def tweets_record_read(events: list[TweetEvent], *, for_user_x_id: str) -> int:
    """Record posts the bot read from X itself (the reconcile), as a delivery's are; returns how many were new.

    A post already recorded, by whatever way it came, creates nothing and dispatches nothing.
    """
    parsed = ParsedDelivery(for_user_x_id=for_user_x_id)
    recorded = 0
    with dispatch.dispatches_held(), one_writer(), transaction.atomic():
        known = _known_tweets(tuple(events))
        for event in sorted(events, key=_id_order):
            recorded += _tweet_record(event, delivery=None, parsed=parsed, known=known.get(event.x_id), careful=True) is not None
    return recorded


def _tweet_record(
    event: TweetEvent, *, delivery: Delivery | None, parsed: ParsedDelivery, known: tuple[int, str, str] | None, careful: bool
) -> Tweet | None:
    """Create the Tweet and its Photo rows; None when the tweet is already known."""
    reason = event.skip_reason or _other_account_reason(parsed.for_user_x_id) or opting.tweet_optout_reason(event)
    if known is not None:
        # A redelivery, or X's copy for another subscribed account, which may have been
        # skipped from that account's view.
        pk, status, for_user = known
        if not reason and status == Tweet.Status.SKIPPED and for_user != parsed.for_user_x_id:
            _tweet_take_over(pk, event, delivery=delivery, parsed=parsed)
        return None
    fields = {
        "x_id": event.x_id,
        "delivery": delivery,
        "for_user_x_id": parsed.for_user_x_id,
        "author_x_id": event.author_x_id,
        "author_username": event.author_username,
        "text": event.text,
        "posted_at": event.posted_at,
        "in_reply_to_x_id": event.in_reply_to_x_id,
        "in_reply_to_user_x_id": event.in_reply_to_user_x_id,
        "quoted_x_id": event.quoted_x_id,
        "media_lookup": event.needs_media_lookup,
        **_tweet_flags(event),
        "status": Tweet.Status.SKIPPED if reason else Tweet.Status.RECEIVED,
        "skip_reason": reason,
    }
    tweet = Tweet(**fields)
    if careful:
        try:
            with transaction.atomic():
                instances_insert([tweet])
        except IntegrityError:  # a concurrent copy of this delivery has it
            if not reason:
                known = Tweet.objects.filter(x_id=event.x_id).values_list("pk", "status", "for_user_x_id").first()
                if known is not None and known[1] == Tweet.Status.SKIPPED and known[2] != parsed.for_user_x_id:
                    _tweet_take_over(known[0], event, delivery=delivery, parsed=parsed)
            return None
    else:
        instances_insert([tweet])  # an IntegrityError here: delivery_record tries again, carefully
    photos_record(tweet, event.photos)
    if not reason:
        dispatch.dispatch_on_commit(tweet_process, tweet.pk)
    return tweet


def _tweet_take_over(pk: int, event: TweetEvent, *, delivery: Delivery | None, parsed: ParsedDelivery) -> bool:
    """The bot's own copy of a tweet first recorded, and skipped, from another account's delivery."""
    # Still skipped: a concurrent copy of this delivery may have taken it over meanwhile.
    taken = (
        Tweet.objects.filter(pk=pk)
        .exclude(for_user_x_id=parsed.for_user_x_id)
        .move(
            Tweet.Status.SKIPPED,
            Tweet.Status.RECEIVED,
            skip_reason="",
            delivery=delivery,
            for_user_x_id=parsed.for_user_x_id,
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
    if delivery is None or Tweet.objects.filter(x_id=x_id).exists():
        return False
    try:
        with transaction.atomic():
            Tweet.objects.create(
                x_id=x_id,
                delivery=delivery,
                for_user_x_id=delivery.for_user_x_id,
                author_x_id=author_x_id,
                status=Tweet.Status.DELETED,
                deleted_at=now,
                skip_reason="deleted before the tweet itself was delivered",
            )
    except IntegrityError:  # its creation was being recorded at the same moment
        return tweet_mark_deleted(x_id)
    return True


def delivery_replay(body: bytes) -> Delivery:
    """Record a delivery's body again (a stored delivery's, or one saved to a file).

    Safe to repeat: tweets already known create nothing and dispatch nothing. A body that is
    not a delivery raises PayloadError; one that cannot be recorded, RecordingFailed."""
    return delivery_record(body=body, payload=payload_load(body))
