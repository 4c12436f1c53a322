"""Manage the bot's X Activity API subscriptions (post.mention.create, post.reply.create, post.quote.create)."""

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bot import conf, services, x_api


class Command(BaseCommand):
    help = "List, create (subscribe) or delete the bot's X Activity API subscriptions."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the bot's subscriptions (--all: every one of the app's)")
        listing.add_argument("--all", action="store_true")
        subscribe = sub.add_parser(
            "subscribe",
            help="subscribe the webhook as IMAGEBOT_X_DELIVERY_FORMAT says: X Activity post events, Account Activity, or both",
        )
        subscribe.add_argument("webhook_id")
        delete = sub.add_parser("delete", help="delete one subscription, or --webhook-id's, or --all of the bot's")
        delete.add_argument("subscription_id", nargs="?")
        delete.add_argument("--webhook-id", default="")
        delete.add_argument("--all", action="store_true")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            result = self._run(action, options)
        except x_api.XApiError as exc:
            raise CommandError(f"X refused: {exc.message}") from None
        except services.PermanentFailure as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(result, indent=2) if not isinstance(result, str) else result)

    def _run(self, action: str, options: dict[str, Any]) -> object:
        if action == "list":
            return [asdict(s) for s in services.activity_subscriptions_list(bot_only=not options["all"])]
        if action == "subscribe":
            webhook_id = options["webhook_id"]
            result: dict[str, object] = {"format": conf.delivery_format()}
            if conf.delivery_format() in ("activity", "both"):
                result["activity"] = [asdict(s) for s in services.activity_subscriptions_create(webhook_x_id=webhook_id)]
            if conf.delivery_format() in ("account_activity", "both"):
                x_api.subscription_create(webhook_id)
                result["account_activity"] = "bot account subscribed"
            return result
        if options["subscription_id"]:
            services.activity_subscription_delete(options["subscription_id"])
            return f"subscription {options['subscription_id']} deleted"
        if not (options["webhook_id"] or options["all"]):
            raise CommandError("give a subscription id, --webhook-id or --all")
        return services.activity_subscriptions_delete(webhook_x_id=options["webhook_id"])
