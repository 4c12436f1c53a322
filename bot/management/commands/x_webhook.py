"""Manage the X webhook and the bot's Account Activity subscription (X API v2).

The same services as the console's webhook page (bot.services.webhooks). A command that
takes a webhook id uses the app's only webhook when none is given.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bot.models import Webhook
from bot.services import webhooks
from bot.services.webhooks import WebhookError


def _shown(webhook: Webhook) -> dict[str, object]:
    return {
        "id": webhook.x_id,
        "url": webhook.url,
        "valid": webhook.valid,
        "created_at": webhook.x_created_at.isoformat() if webhook.x_created_at else None,
        "subscribed": webhook.subscribed,
    }


class Command(BaseCommand):
    help = "List, register, re-check (CRC), delete the X webhook; subscribe or unsubscribe the bot account, or check it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="the app's webhooks, as X lists them (and the bot's subscription to each)")
        register = sub.add_parser("register", help="register a webhook URL (default: X_WEBHOOK_URL)")
        register.add_argument("url", nargs="?")
        for name, text in (
            ("validate", "ask X to run the CRC check now (re-enables an invalid webhook)"),
            ("subscribe", "subscribe the bot account"),
            ("unsubscribe", "unsubscribe the bot account"),
            ("check", "is the bot account subscribed?"),
        ):
            sub.add_parser(name, help=f"{text}; default: the app's only webhook").add_argument("webhook_id", nargs="?")
        sub.add_parser("delete", help="delete a webhook (its id is required)").add_argument("webhook_id")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            result = self._run(action, options)
        except WebhookError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps(result, indent=2) if not isinstance(result, str) else result)

    def _run(self, action: str, options: dict[str, Any]) -> object:
        if action == "list":
            return [_shown(webhook) for webhook in webhooks.webhooks_sync()]
        if action == "register":
            return _shown(webhooks.webhook_register(options.get("url")))
        webhook = webhooks.webhook_default(options.get("webhook_id"))
        if action == "validate":
            webhooks.webhook_validate(webhook)
            return f"webhook {webhook.x_id}: X ran the CRC check and it passed"
        if action == "delete":
            webhooks.webhook_delete(webhook)
            return f"webhook {webhook.x_id} deleted"
        if action == "subscribe":
            webhooks.subscription_create(webhook)
            return f"bot account subscribed to webhook {webhook.x_id}"
        if action == "unsubscribe":
            webhooks.subscription_delete(webhook)
            return f"bot account unsubscribed from webhook {webhook.x_id}"
        return {"webhook": webhook.x_id, "subscribed": webhooks.subscription_check(webhook)}
