"""Record a delivery again: from a file holding a raw body, or a stored Delivery by id.

Replaying is safe: tweets already known create nothing and dispatch nothing.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bot import services
from bot.events import PayloadError
from bot.models import Delivery


class Command(BaseCommand):
    help = "Replay a webhook delivery from a file (raw JSON body) or from a stored delivery id."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("path", nargs="?", help="file with the raw delivery body")
        source.add_argument("--id", type=int, help="id of a stored Delivery")

    def handle(self, *args: Any, path: str | None = None, id: int | None = None, **options: Any) -> None:
        if id is not None:
            try:
                body = bytes(Delivery.objects.get(pk=id).body)
            except Delivery.DoesNotExist:
                raise CommandError(f"no delivery with id {id}") from None
        elif path is not None:
            try:
                body = Path(path).read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc}") from None
        else:  # argparse requires one of the two; call_command might not
            raise CommandError("give a path or --id")
        try:
            delivery = services.delivery_replay(body)
        except PayloadError as exc:
            raise CommandError(f"the body is {exc}") from None
        except services.RecordingFailed as exc:
            raise CommandError(
                f"its recording did not finish (kept as delivery {exc.args[0]}; replaying it again is safe): {exc.__cause__}"
            ) from None
        self.stdout.write(f"recorded as delivery {delivery.pk}; new tweets: {delivery.tweets.count()}")
