"""Record a delivery again: from a file holding a raw body, or a stored Delivery by id.

Replaying is safe: posts already known create nothing and dispatch nothing.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bot import services
from bot.models import Delivery


class Command(BaseCommand):
    help = "Replay a webhook delivery from a file (raw JSON body) or from a stored delivery id."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("path", nargs="?", help="file with the raw delivery body")
        source.add_argument("--id", type=int, help="id of a stored Delivery")

    def handle(self, *args, path=None, id=None, **options):
        if id is not None:
            try:
                body = bytes(Delivery.objects.get(pk=id).body)
            except Delivery.DoesNotExist:
                raise CommandError(f"no delivery with id {id}") from None
        else:
            try:
                body = Path(path).read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise CommandError(f"not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise CommandError("the body is not a JSON object")
        try:
            delivery = services.delivery_record(body=body, payload=payload)
        except services.RecordingFailed as exc:
            raise CommandError(f"could not record it (kept as failed delivery {exc.args[0]}): {exc.__cause__}") from None
        self.stdout.write(f"recorded as delivery {delivery.pk}; new posts: {delivery.tweets.count()}")
