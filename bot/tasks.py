"""Lambda entry points, and nothing else: each takes ids or keys and calls a service.

Zappa's handler routes events here (see zappa_settings.json):
- run_job: the async task behind bot.dispatch in "lambda" mode. Called on Lambda it
  invokes the function again asynchronously with {"command":
  "zappa.asynchronous.route_lambda_task", "task_path": "bot.tasks.run_job", "args": [...]},
  and that invocation runs the body; called anywhere else it runs the body at once.
- s3_photo_created: S3 ObjectCreated events from the photo bucket (AWS_EVENT_MAPPING,
  keyed by the bucket's ARN).
- sweep, reconcile: the schedules; Zappa finds the function from the rule name's last "-" part.
- webhook_check: the schedule that watches the X webhook (its validity, the subscription).

Events are at-least-once; the services make a repeat harmless. The handlers take
(event, context) with no defaults on purpose: Zappa's run_function answers a TypeError
by calling the function again with fewer arguments, and required parameters stop a
TypeError raised inside a service from running that service a second and third time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypedDict, TypeVar
from urllib.parse import unquote_plus

from django.db import connections
from zappa.asynchronous import task

from bot import conf, dispatch, services

logger = logging.getLogger(__name__)

PHOTO_PREFIX = services.PHOTO_PREFIX


def _close_old_connections() -> None:
    """What Django does around each request, for invocations that are not requests.

    A warm Lambda keeps its connections between invocations; without this, one that the
    database dropped or that outlived CONN_MAX_AGE is reused. A connection inside a
    transaction (the caller's, or a test's) is never closed.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _entry_point(func: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        _close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            _close_old_connections()

    return wrapper


@task
@_entry_point
def run_job(job: str, tweet_pk: int) -> None:
    dispatch.run_job(job, tweet_pk)


class S3EventSummary(TypedDict):
    recognised: int
    unchanged: int
    ignored: int
    failed: int


@_entry_point
def s3_photo_created(event: dict, context: object) -> S3EventSummary:
    """Recognise each photo an S3 ObjectCreated event names. One bad record never stops the others."""
    summary: S3EventSummary = {"recognised": 0, "unchanged": 0, "ignored": 0, "failed": 0}
    our_bucket = conf.env_str("AWS_STORAGE_BUCKET_NAME")
    for record in event.get("Records", []):
        key = None
        try:
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
            if not record.get("eventName", "").startswith("ObjectCreated:"):
                logger.info("S3 event %s for %s ignored: not an ObjectCreated event", record.get("eventName"), key)
                summary["ignored"] += 1
            elif our_bucket and bucket != our_bucket:
                logger.warning("S3 event for %s ignored: bucket %s is not the photo bucket %s", key, bucket, our_bucket)
                summary["ignored"] += 1
            elif not key.startswith(PHOTO_PREFIX):
                logger.info("S3 event for %s ignored: not under %s", key, PHOTO_PREFIX)
                summary["ignored"] += 1
            elif services.photo_recognise_stored(key):
                summary["recognised"] += 1
            else:
                summary["unchanged"] += 1
        except Exception:  # the sweeper picks the tweet up again; the others go on now
            logger.exception("S3 event for %s failed", key if key is not None else "a record without a key")
            summary["failed"] += 1
    logger.info("S3 event handled: %s", summary)
    return summary


@_entry_point
def sweep(event: dict, context: object) -> services.SweepCounts:
    """The scheduled sweeper."""
    counts = services.sweep()
    logger.info("sweep: %s", counts)
    return counts


@_entry_point
def reconcile(event: dict, context: object) -> dict[str, int | bool]:
    """The scheduled reconcile: the bot's mentions the webhook never brought are recorded and answered."""
    try:
        result = services.mentions_reconcile()
    except services.TemporaryFailure as exc:  # the next run tries again; the cursor did not move
        logger.warning("reconcile: %s", exc)
        return {"posts_read": 0, "recorded": 0, "complete": False}
    return {"posts_read": result.posts_read, "recorded": result.recorded, "complete": result.complete}


@_entry_point
def webhook_check(event: dict, context: object) -> dict[str, int]:
    """The scheduled webhook watch: sync from X, ask X to re-check an invalid webhook (ERROR logged while it stays invalid)."""
    from bot.services import webhooks  # the webhook's cold start never needs it

    watched = webhooks.webhooks_watch()
    counts = {"webhooks": len(watched), "invalid": sum(not webhook.valid for webhook in watched)}
    logger.info("webhook check: %s", counts)
    return counts
