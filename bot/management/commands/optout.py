"""Who opted out of the bot's replies ("stop"), and an operator's own opt-outs."""

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bot import services


class Command(BaseCommand):
    help = "List opt-outs; opt a person out (add) or forget their opt-out (remove), by X user id."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="who opted out").add_argument("--all", action="store_true", help="also who opted back in")
        add = sub.add_parser("add", help="opt a person out")
        add.add_argument("user_id")
        add.add_argument("--username", default="")
        sub.add_parser("remove", help="forget a person's opt-out: they are answered again").add_argument("user_id")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            self.stdout.write(json.dumps([asdict(e) for e in services.optout_list(opted_out_only=not options["all"])], indent=2))
        elif action == "add":
            services.optout_create(options["user_id"], username=options["username"])
            self.stdout.write(f"{options['user_id']} opted out")
        else:
            found = services.optout_delete(options["user_id"])
            self.stdout.write(f"{options['user_id']}: " + ("opt-out forgotten" if found else "had not opted out"))
