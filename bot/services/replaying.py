"""Replaying what the webhook missed: POST /2/webhooks/replay, one job at a time.

X re-sends every event it delivered, or tried to deliver, to the webhook within a window
of the last 24 hours. They arrive as ordinary deliveries, and a post the bot already has
is recorded once and answered once whatever way it came. A ReplayJob row is written
before X is asked, so two operators cannot start two jobs; it ends when X's
`replay_job_status` event arrives (or, if it never does, after REPLAY_JOB_LAPSE).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from bot import conf
from bot.events import ReplayDoneEvent
from bot.models import ReplayJob
from bot.services.errors import PermanentFailure, TemporaryFailure

logger = logging.getLogger(__name__)

REPLAY_WINDOW = timedelta(hours=24)  # X replays at most this far back
REPLAY_JOB_LAPSE = timedelta(hours=24)  # a job X never said was done no longer blocks the next


class ReplayRefused(ValueError):
    """The replay cannot be asked for: another is running, or the window is not one X replays."""


def replay_start(*, webhook_x_id: str, from_at: datetime, to_at: datetime | None = None) -> ReplayJob:
    """Ask X to re-send the webhook's events from `from_at` to `to_at` (default: now), to the minute."""
    from bot import x_api  # imported when used, as in bot.services.replying

    now = timezone.now()
    to_at = min(to_at or now, now).replace(second=0, microsecond=0)
    from_at = from_at.replace(second=0, microsecond=0)
    if from_at >= to_at:
        raise ReplayRefused(f"the window must start before it ends ({from_at:%Y-%m-%d %H:%M} to {to_at:%Y-%m-%d %H:%M} UTC)")
    if from_at < now - REPLAY_WINDOW:
        raise ReplayRefused(
            f"X replays only the last {REPLAY_WINDOW.total_seconds() / 3600:g} hours; {from_at:%Y-%m-%d %H:%M} UTC is older"
        )
    _lapsed_jobs_end(now)
    try:
        with transaction.atomic():
            job = ReplayJob.objects.create(webhook_x_id=webhook_x_id, from_at=from_at, to_at=to_at)
    except IntegrityError:
        running = ReplayJob.objects.filter(status=ReplayJob.Status.RUNNING).first()
        raise ReplayRefused(f"a replay is already running ({running}); X's replay_job_status event ends it") from None
    try:
        job_x_id = x_api.replay_create(webhook_x_id, from_date=_minute(from_at), to_date=_minute(to_at))
    except x_api.XApiError as exc:
        ReplayJob.objects.filter(pk=job.pk).move(ReplayJob.Status.RUNNING, ReplayJob.Status.FAILED, last_error=exc.message)
        raise (PermanentFailure if exc.permanent else TemporaryFailure)(f"replay: {exc.message}") from exc
    ReplayJob.objects.filter(pk=job.pk).update(job_x_id=job_x_id)
    job.refresh_from_db()
    logger.info("replay %s asked for: webhook %s, %s to %s", job_x_id, webhook_x_id, from_at, to_at)
    return job


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


def _lapsed_jobs_end(now: datetime) -> None:
    ReplayJob.objects.filter(created_at__lt=now - REPLAY_JOB_LAPSE).move(
        ReplayJob.Status.RUNNING, ReplayJob.Status.FAILED, last_error="X never said the replay was done"
    )


def replay_job_finished(event: ReplayDoneEvent) -> bool:
    """X's replay_job_status event: the job it names is done. Returns whether a running job ended."""
    complete = event.state.casefold() == "complete"
    jobs = ReplayJob.objects.filter(job_x_id=event.job_id)
    if not jobs.exists():
        # X can finish a short replay before its answer to the request is written down: the
        # running job without an id yet (there is one running job at most) is this one.
        jobs = ReplayJob.objects.filter(job_x_id="", status=ReplayJob.Status.RUNNING)
    if complete:
        ended = jobs.move(ReplayJob.Status.RUNNING, ReplayJob.Status.COMPLETE, last_error="", job_x_id=event.job_id)
    else:
        last_error = f"X: {event.state} {event.description}".strip()
        ended = jobs.move(ReplayJob.Status.RUNNING, ReplayJob.Status.FAILED, last_error=last_error, job_x_id=event.job_id)
    if ended:
        (logger.info if complete else logger.error)("replay %s ended: %s %s", event.job_id, event.state, event.description)
    return bool(ended)


def replay_webhook_x_id() -> str:
    """The webhook to replay: the registered one whose URL is X_WEBHOOK_URL, or the app's only one."""
    from bot import x_api  # imported when used, as in bot.services.replying

    webhooks = x_api.webhook_list()
    url = conf.x_webhook_url()
    matching = [webhook for webhook in webhooks if url and webhook.get("url") == url] or (webhooks if len(webhooks) == 1 else [])
    if len(matching) != 1:
        raise ReplayRefused(f"{len(webhooks)} webhooks are registered and none is X_WEBHOOK_URL: say which (--webhook-id)")
    return str(matching[0]["id"])
