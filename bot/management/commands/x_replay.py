"""Ask X to re-send the webhook's events of a window within the last 24 hours (one replay at a time)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bot import services, x_api


class Command(BaseCommand):
    help = "Replay the webhook's events (POST /2/webhooks/replay): --hours back from now, or --from/--to (UTC)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, help="replay this many hours back from now (at most 24)")
        parser.add_argument("--from", dest="from_at", help="start, ISO 8601 (UTC when no offset)")
        parser.add_argument("--to", dest="to_at", help="end, ISO 8601 (default: now)")
        parser.add_argument("--webhook-id", default="", help="default: the webhook registered at X_WEBHOOK_URL, or the only one")

    def handle(self, *args: Any, hours: float | None, from_at: str | None, to_at: str | None, webhook_id: str, **options: Any) -> None:
        if (hours is None) == (from_at is None):
            raise CommandError("give --hours or --from")
        start = timezone.now() - timedelta(hours=hours) if hours is not None else _moment(from_at or "")
        end = _moment(to_at) if to_at else None
        try:
            job = services.replay_start(webhook_x_id=webhook_id or services.replay_webhook_x_id(), from_at=start, to_at=end)
        except services.ReplayRefused as exc:
            raise CommandError(str(exc)) from None
        except (services.PermanentFailure, services.TemporaryFailure, x_api.XApiError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"replay {job.job_x_id} asked for: {job.from_at:%Y-%m-%d %H:%M} to {job.to_at:%Y-%m-%d %H:%M} UTC")


def _moment(text: str) -> datetime:
    moment = parse_datetime(text)
    if moment is None:
        raise CommandError(f"not a date and time: {text!r}")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)
