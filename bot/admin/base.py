"""What the console's pages share: read-only admins, status badges, messages from an Outcome."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bot.services.console import Outcome

# Badge colours by status: green settled well, red failed, amber in progress, grey the rest.
_COLOURS = {
    "done": "#2e7d32",
    "complete": "#2e7d32",
    "posted": "#2e7d32",
    "recognised": "#2e7d32",
    "recorded": "#2e7d32",
    "dry_run": "#6a4c93",
    "failed": "#c62828",
    "invalid": "#c62828",
    "received": "#ef6c00",
    "processing": "#ef6c00",
    "running": "#ef6c00",
    "pending": "#ef6c00",
    "posting": "#ef6c00",
    "stored": "#ef6c00",
    "recognising": "#ef6c00",
}


def badge(value: str, label: str | None = None) -> SafeString:
    return format_html(
        '<span class="console-badge" style="background:{}">{}</span>', _COLOURS.get(value, "#757575"), label or value.replace("_", " ")
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records come from X and the pipeline; operators browse them, they don't type them in."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class TweetPartAdmin(ReadOnlyAdmin):
    """A photo, a label or a reply: deleted with its tweet only."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def report(modeladmin: admin.ModelAdmin, request: HttpRequest, what: str, outcome: Outcome) -> None:
    """An action's outcome as messages: what was done, and each refusal with its reason."""
    if outcome.done:
        modeladmin.message_user(request, _listed(f"{what}: {len(outcome.done)} done", outcome.done), messages.SUCCESS)
    if outcome.refused:
        modeladmin.message_user(request, _listed(f"{what}: {len(outcome.refused)} refused", outcome.refused), messages.WARNING)
    if not outcome.done and not outcome.refused:
        modeladmin.message_user(request, f"{what}: nothing selected", messages.INFO)


def _listed(head: str, lines: list[str]) -> SafeString:
    shown = lines[:10]
    more = f" and {len(lines) - len(shown)} more" if len(lines) > len(shown) else ""
    return format_html("{} ({}{})", head, format_html_join("; ", "{}", ((line,) for line in shown)), more)
