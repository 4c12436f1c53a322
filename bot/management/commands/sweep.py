"""Re-dispatch stuck tweets; fail those out of attempts (the Lambda schedule runs the same service)."""

import json
from typing import Any

from django.core.management.base import BaseCommand

from bot import services


class Command(BaseCommand):
    help = "Re-dispatch tweets stuck in a non-final state; fail those that ran out of attempts."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(services.sweep()))
