"""Read the bot's mentions back from X and record (and answer) what the webhook never brought."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bot import services


class Command(BaseCommand):
    help = "Reconcile the bot's mentions (GET /2/users/{id}/mentions since the last run); X bills each post read."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-posts", type=int, help="most posts to read this run (default: IMAGEBOT_RECONCILE_MAX_POSTS)")

    def handle(self, *args: Any, max_posts: int | None, **options: Any) -> None:
        try:
            result = services.mentions_reconcile(max_posts=max_posts)
        except (services.PermanentFailure, services.TemporaryFailure) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{result.posts_read} posts read (billed by X), {result.recorded} recorded, {result.pages} pages"
            + ("" if result.complete else "; bound reached, the next run reads on")
            + ("; first run: cursor set, nothing recorded" if result.baseline else "")
        )
