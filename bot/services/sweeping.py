"""The sweeper: nothing is silently dropped.

Tweets stuck in a non-final state longer than IMAGEBOT_SWEEP_AFTER_SECONDS are dispatched
again, claims whose worker is gone are reopened, tweets out of attempts are failed with
their last error, and clean-ups that failed are finished.

A claim (a photo `recognising`, a reply `posting`) is the worker's for as long as its step
can take (conf.photo_claim_seconds, conf.reply_claim_seconds: derived from the timeouts and
retries, and never less than the sweep delay). While one is held, its tweet is left alone
altogether: not dispatched again, not failed, and no attempt counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from bot import conf, dispatch
from bot.models import Photo, Reply, Tweet
from bot.services import pacing
from bot.services.processing import tweet_process
from bot.services.settling import tweet_settle
from bot.services.storage import tweet_photos_delete


class SweepCounts(TypedDict):
    redispatched: int
    failed: int
    photos_deleted: int


def sweep() -> SweepCounts:
    """Re-dispatch tweets stuck in a non-final state; fail those out of attempts."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=conf.sweep_after_seconds())
    photo_claims_cutoff = now - timedelta(seconds=conf.photo_claim_seconds())
    reply_claims_cutoff = now - timedelta(seconds=conf.reply_claim_seconds())
    limit = conf.max_attempts()
    redispatched = failed = 0
    stuck = stuck_tweets(now, held_until_now=True)
    # Replies held for X's window go no more at a time than the window allows; the rest wait.
    # A tweet whose photos are still to be looked up was held by the lookup's own limit, not the replies'.
    slots = pacing.reply_slots_open()
    for tweet in stuck.only("pk", "status", "attempts", "last_error", "updated_at", "not_before", "media_lookup"):
        if tweet.not_before is not None and not tweet.media_lookup and tweet.attempts < limit:
            if slots <= 0:
                continue
            slots -= 1
        if tweet.attempts >= limit:
            reason = f"gave up after {tweet.attempts} attempts: {tweet.last_error or 'the worker stopped without an error'}"
            failed += tweet_settle(
                tweet.pk, source=Tweet.PENDING_STATUSES, target=Tweet.Status.FAILED, last_error=reason, updated_at=tweet.updated_at
            )
            continue
        if tweet_reopen(tweet, photo_claims_cutoff=photo_claims_cutoff, reply_claims_cutoff=reply_claims_cutoff):
            redispatched += 1
    return {"redispatched": redispatched, "failed": failed, "photos_deleted": _leftover_photos_delete(cutoff)}


def stuck_tweets(now: datetime | None = None, *, held_until_now: bool = False) -> QuerySet[Tweet]:
    """Tweets in a non-final state untouched past the sweep delay, no worker's live claim on them, not waiting for X's rate limit;
    oldest first. held_until_now: also those held for X's window (bot.services.pacing) whose time has come."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.sweep_after_seconds())
    live_photo_claim = Photo.objects.filter(
        tweet_id=OuterRef("pk"), status=Photo.Status.RECOGNISING, claimed_at__gte=now - timedelta(seconds=conf.photo_claim_seconds())
    )
    live_reply_claim = Reply.objects.filter(
        tweet_id=OuterRef("pk"), status=Reply.Status.POSTING, claimed_at__gte=now - timedelta(seconds=conf.reply_claim_seconds())
    )
    due = Q(updated_at__lt=cutoff) | Q(not_before__lte=now) if held_until_now else Q(updated_at__lt=cutoff)
    return (
        Tweet.objects.filter(due, status__in=Tweet.PENDING_STATUSES)
        .exclude(not_before__gt=now)
        .exclude(Exists(live_photo_claim))
        .exclude(Exists(live_reply_claim))
        .order_by("received_at", "pk")
    )


def tweet_reopen(tweet: Tweet, *, photo_claims_cutoff: datetime | None = None, reply_claims_cutoff: datetime | None = None) -> bool:
    """Dispatch a stuck tweet again (as read: `tweet.status`, `tweet.updated_at`), reopening the claims a dead worker left.

    False when someone touched it since it was read: someone is working on it now."""
    now = timezone.now()
    photo_claims_cutoff = photo_claims_cutoff or now - timedelta(seconds=conf.photo_claim_seconds())
    reply_claims_cutoff = reply_claims_cutoff or now - timedelta(seconds=conf.reply_claim_seconds())
    with transaction.atomic():
        # Only if nobody touched it since it was read: otherwise someone is working on it now.
        untouched = Tweet.objects.filter(pk=tweet.pk, status=tweet.status, updated_at=tweet.updated_at)
        if not untouched.move(Tweet.PENDING_STATUSES, Tweet.Status.RECEIVED):
            return False
        # Steps a dead worker left half-way are opened again; the claims keep them single.
        # (A claim taken since the tweet was read is younger than its cutoff: left alone.)
        Photo.objects.filter(tweet_id=tweet.pk, claimed_at__lt=photo_claims_cutoff).move(Photo.Status.RECOGNISING, Photo.Status.STORED)
        # A worker gone while posting may have posted, as late as the longest its claim could
        # last: the reply is looked for on the bot's timeline before it is posted again.
        Reply.objects.filter(tweet_id=tweet.pk, claimed_at__lt=reply_claims_cutoff).move(
            Reply.Status.POSTING,
            Reply.Status.PENDING,
            maybe_posted_at=F("claimed_at") + timedelta(seconds=conf.reply_longest_seconds()),
        )
        dispatch.dispatch_on_commit(tweet_process, tweet.pk)
    return True


def _leftover_photos_delete(cutoff: datetime) -> int:
    """Files a failed clean-up left behind (photos kept on purpose are not marked for clean-up)."""
    leftovers = (
        Photo.objects.filter(tweet__photos_cleanup=True, tweet__updated_at__lt=cutoff)
        .exclude(file="")
        .values_list("tweet_id", flat=True)
        .distinct()
    )
    return sum(tweet_photos_delete(tweet_pk) for tweet_pk in leftovers)
