"""How a tweet's processing ends, and what is kept when it does not.

A step's failure is kept on the tweet row: a temporary one for the sweeper (the tweet
stays pending, with `last_error`), a permanent one as the tweet's final `failed`. A
settled tweet's stored photos go, unless IMAGEBOT_KEEP_PHOTOS keeps them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from bot import conf
from bot.models import Tweet
from bot.services.errors import PermanentFailure, TemporaryFailure
from bot.services.storage import tweet_photos_delete

logger = logging.getLogger(__name__)

MAX_LAST_ERROR = 2000


RATE_LIMIT_PATIENCE = timedelta(hours=48)  # how long rate-limited rounds are free
MAX_RATE_LIMIT_WAIT = timedelta(hours=25)  # X's longest window is a day


def tweet_touch(tweet_pk: int) -> None:
    """A worker is on this tweet now: the sweeper leaves it alone for another sweep delay."""
    Tweet.objects.filter(pk=tweet_pk, status__in=Tweet.PENDING_STATUSES).update(updated_at=timezone.now())


def tweet_settle(
    tweet_pk: int, *, source: str | tuple[str, ...], target: str, last_error: str = "", updated_at: datetime | None = None
) -> bool:
    """Give a tweet its final status if it is still in `source` (and, with `updated_at`, untouched
    since the caller read it); its stored photos go then, unless they are kept."""
    cleanup = not conf.keep_photos()
    tweets = Tweet.objects.filter(pk=tweet_pk)
    if updated_at is not None:
        tweets = tweets.filter(updated_at=updated_at)
    settled = tweets.move(source, target, last_error=last_error[:MAX_LAST_ERROR], photos_cleanup=cleanup)
    if settled and cleanup:
        tweet_photos_delete(tweet_pk)
    return bool(settled)


def tweet_fail(tweet_pk: int, reason: str) -> bool:
    """Settle a pending tweet as failed with its reason; its stored photos go as after a reply."""
    failed = tweet_settle(tweet_pk, source=Tweet.PENDING_STATUSES, target=Tweet.Status.FAILED, last_error=reason)
    if failed:
        logger.error("tweet pk %s failed: %s", tweet_pk, reason)
    return failed


def tweet_note_error(tweet_pk: int, reason: str) -> None:
    Tweet.objects.filter(pk=tweet_pk, status__in=Tweet.PENDING_STATUSES).update(last_error=reason[:MAX_LAST_ERROR])
    logger.warning("tweet pk %s: %s (the sweeper will try again)", tweet_pk, reason)


def tweet_deleted_meanwhile(tweet_pk: int) -> bool:
    """The author deleted the tweet while it was being processed: drop what was stored since."""
    if not Tweet.objects.filter(pk=tweet_pk, status=Tweet.Status.DELETED).exists():
        return False
    tweet_photos_delete(tweet_pk)
    return True


@contextmanager
def failures_recorded(tweet_pk: int) -> Iterator[None]:
    """Keep a step's failure on the tweet row: temporary ones for the sweeper, permanent ones final."""
    try:
        yield
    except PermanentFailure as exc:
        tweet_fail(tweet_pk, str(exc))
    except TemporaryFailure as exc:
        tweet_note_error(tweet_pk, str(exc))
    except Exception as exc:  # a bug: keep it on the row for the sweeper, and let it be seen
        tweet_note_error(tweet_pk, f"{type(exc).__name__}: {exc}")
        raise


def tweet_wait_for_rate_limit(tweet_pk: int, seconds: float) -> None:
    """X's limit is spent for longer than a step may wait (a daily cap, say): the sweeper
    comes back after the reset, and this round does not count against the attempt limit.

    Only while the tweet is younger than RATE_LIMIT_PATIENCE: an account that stays
    limited uses up its attempts like any other failure, so every tweet ends settled.
    """
    now = timezone.now()
    Tweet.objects.filter(pk=tweet_pk, attempts__gt=0, received_at__gt=now - RATE_LIMIT_PATIENCE).update(
        not_before=now + min(timedelta(seconds=seconds), MAX_RATE_LIMIT_WAIT), attempts=F("attempts") - 1
    )
