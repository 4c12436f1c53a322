"""Pacing: replies posted within X's rate limit, oldest first, never marching into 429s.

X allows about 100 POST /2/tweets per 15 minutes per user (fewer on lower tiers) and says
where a window stands in every answer's x-rate-limit-remaining and -reset headers. The
budget lives in the database (RateBudget), so every worker and process shares it:

- `reply_slot_take` hands out one call of the window, or says until when to wait. While
  nothing is known of the window (no answer seen yet) one call goes out alone, a probe,
  and the others wait for its answer; once a window ends, the next starts with the
  limit X last stated, so the only 429 there can be is the first probe's. Should a
  window be spent without any answer saying when it ends (X down, answers without
  headers), a probe learns it again rather than the replies waiting for ever.
- `reply_rate_limit_record` takes what an answer's headers say (x_api's on_rate_limit).
- A reply that must wait stays pending; its tweet keeps `not_before` (the window's
  reset) and the sweeper dispatches it again then, oldest first, no more at a time than
  the budget allows (`reply_slots_open`). A reply never overtakes an older one that waits.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from bot import conf
from bot.models import RateBudget, Reply, Tweet

if TYPE_CHECKING:
    from bot import x_api

logger = logging.getLogger(__name__)

REPLIES = "POST /2/tweets"
PROBE_WAIT = timedelta(seconds=2)  # how soon a reply held behind a probe asks again


def _budget() -> RateBudget:
    """The replies' budget row, locked until the transaction ends (on SQLite the transaction holds the write lock)."""
    budget, _ = RateBudget.objects.select_for_update().get_or_create(endpoint=REPLIES)
    return budget


def reply_slot_take(tweet_pk: int) -> datetime | None:
    """One POST /2/tweets for this tweet's reply now (None), or the time to wait until."""
    now = timezone.now()
    with transaction.atomic():
        budget = _budget()
        older = _older_held(tweet_pk, now)
        if older is not None:
            return older
        if budget.probe_until is not None and budget.probe_until > now:
            return min(budget.probe_until, now + PROBE_WAIT)
        if budget.resets_at is not None and budget.resets_at <= now:
            # The window X spoke of is over; the next starts full (its end is known from its first answer).
            budget.remaining, budget.resets_at = budget.limit or 0, None
        if budget.resets_at is None and (budget.limit is None or budget.remaining <= 0):
            # Nothing known of the window, or this window spent without X ever saying when it
            # ends (its answers had no headers, or none came): one call learns it before any other.
            budget.probe_until = now + timedelta(seconds=conf.reply_longest_seconds())
            budget.save()
            return None
        if budget.remaining > 0:
            budget.remaining -= 1
            budget.save()
            return None
        return budget.resets_at


def _older_held(tweet_pk: int, now: datetime) -> datetime | None:
    """When an older reply waiting for the window may go: a reply never overtakes one that waits.
    (One whose time has come is the sweeper's to send next; it does not hold the others up.)"""
    return (
        Tweet.objects.filter(pk__lt=tweet_pk, status=Tweet.Status.PROCESSING, not_before__gt=now, reply__status=Reply.Status.PENDING)
        .order_by("-not_before")
        .values_list("not_before", flat=True)
        .first()
    )


def reply_rate_limit_record(limit: x_api.RateLimit) -> None:
    """What one answer to POST /2/tweets said of the window: what is left of it, and its end."""
    resets_at = datetime.fromtimestamp(limit.reset, tz=UTC)
    with transaction.atomic():
        budget = _budget()
        known = budget.resets_at
        if (known is not None and resets_at < known) or (known is None and resets_at <= timezone.now()):
            return  # a late answer from a window that is over
        if budget.probe_until is not None or budget.limit is None or (known is not None and resets_at > known):
            budget.remaining = limit.remaining  # a probe's answer, or a window we had not seen begin
        else:
            # This window: calls handed out but not answered yet are not in X's count.
            budget.remaining = min(budget.remaining, limit.remaining)
        budget.resets_at = resets_at
        budget.limit = limit.limit if limit.limit is not None else budget.limit
        budget.probe_until = None
        budget.save()
    if limit.remaining == 0:
        logger.info("X's reply window is spent until %s: replies wait", resets_at)


def reply_probe_release() -> None:
    """An answer came without the window's headers, or no answer came: the next call may probe."""
    RateBudget.objects.filter(endpoint=REPLIES, probe_until__isnull=False).update(probe_until=None)


def reply_slots_open() -> int:
    """How many waiting replies the sweeper may dispatch now: what the window has left (one to probe it)."""
    now = timezone.now()
    budget = RateBudget.objects.filter(endpoint=REPLIES).first()
    if budget is None:
        return 1
    if budget.probe_until is not None and budget.probe_until > now:
        return 0
    if budget.resets_at is not None and budget.resets_at <= now:
        return budget.limit or 1
    if budget.resets_at is None and (budget.limit is None or budget.remaining <= 0):
        return 1  # a probe
    return budget.remaining
