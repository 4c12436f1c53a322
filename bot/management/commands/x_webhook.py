"""Manage the X webhook and the bot's subscription (X API v2)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bot import conf, x_api


class Command(BaseCommand):
    help = "List, register, validate (CRC), delete the X webhook; subscribe the bot account to it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="webhooks registered for this app")
        register = sub.add_parser("register", help="register a webhook URL (default: X_WEBHOOK_URL)")
        register.add_argument("url", nargs="?")
        for name, text in (
            ("validate", "ask X to run the CRC check now"),
            ("delete", "delete a webhook"),
            ("subscribe", "subscribe the bot account"),
            ("check", "is the bot account subscribed?"),
        ):
            sub.add_parser(name, help=text).add_argument("webhook_id")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            result = self._run(action, options)
        except x_api.XApiError as exc:
            raise CommandError(f"X refused: {exc.message}") from None
        self.stdout.write(json.dumps(result, indent=2) if not isinstance(result, str) else result)

    def _run(self, action: str, options: dict[str, Any]) -> object:
        if action == "list":
            return x_api.webhook_list()
        if action == "register":
            url = options.get("url") or conf.x_webhook_url()
            if not url:
                raise CommandError("give a URL or set X_WEBHOOK_URL")
            return x_api.webhook_create(url)
        webhook_id = options["webhook_id"]
        if action == "validate":
            x_api.webhook_validate(webhook_id)
            return f"webhook {webhook_id}: CRC check requested"
        if action == "delete":
            x_api.webhook_delete(webhook_id)
            return f"webhook {webhook_id} deleted"
        if action == "subscribe":
            x_api.subscription_create(webhook_id)
            return f"bot account subscribed to webhook {webhook_id}"
        return {"subscribed": x_api.subscription_check(webhook_id)}
