"""The X webhook and the bot's subscriptions to it, managed from the console.

Every operation calls bot.services.webhooks and needs the `bot.manage_webhooks` permission
(staff only: the admin never lets anyone else in); viewing needs the usual view permission.
The page has one section per kind of subscription: the Account Activity one here; X Activity
API subscriptions have a section of their own beside it (bot.admin.activity).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from bot import conf
from bot.admin.activity import ActivitySubscriptionsMixin
from bot.admin.base import badge
from bot.models import Webhook
from bot.services import webhooks
from bot.services.webhooks import WebhookError


@admin.register(Webhook)
class WebhookAdmin(ActivitySubscriptionsMixin, admin.ModelAdmin):
    list_display = ["x_id", "url", "validity", "subscription", "x_created_at", "synced_at", "last_error"]
    actions = ["validate", "subscribe", "unsubscribe", "check_subscription", "delete_on_x"]
    change_list_template = "admin/bot/webhook/change_list.html"
    fields = readonly_fields = (
        "x_id",
        "url",
        "validity",
        "invalid_since",
        "subscription",
        "subscription_checked_at",
        "x_created_at",
        "synced_at",
        "last_error",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # registered on X with the form on the list, never typed in

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # deleted on X with the action, never just here

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm("bot.manage_webhooks")

    @admin.display(description="valid", ordering="valid")
    def validity(self, obj: Webhook) -> SafeString:
        return badge("done", "valid") if obj.valid else badge("failed", "INVALID: X sends it nothing")

    @admin.display(description="bot account subscribed", ordering="subscribed")
    def subscription(self, obj: Webhook) -> SafeString:
        if obj.subscribed is None:
            return badge("unknown", "not checked")
        return badge("done", "subscribed") if obj.subscribed else badge("failed", "not subscribed")

    # --- The page's own views: sync and register ---

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("sync/", self.admin_site.admin_view(require_POST(self.sync_view)), name="bot_webhook_sync"),
            path("register/", self.admin_site.admin_view(require_POST(self.register_view)), name="bot_webhook_register"),
        ]
        return own + self.activity_urls() + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = {
            "can_manage": self.has_manage_permission(request),
            "default_url": conf.x_webhook_url() or "",
            **self.activity_context(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def _back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:bot_webhook_changelist"))

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        self._require_manage(request)
        self._run(request, "Sync with X", lambda: f"{len(webhooks.webhooks_sync())} webhook(s) on X")
        return self._back()

    def register_view(self, request: HttpRequest) -> HttpResponse:
        self._require_manage(request)
        url = request.POST.get("url", "").strip() or None
        self._run(request, "Register", lambda: f"registered {webhooks.webhook_register(url)}; X's CRC check passed")
        return self._back()

    def _require_manage(self, request: HttpRequest) -> None:
        if not self.has_manage_permission(request):
            raise PermissionDenied

    def _run(self, request: HttpRequest, what: str, operation: Callable[[], str]) -> bool:
        try:
            self.message_user(request, f"{what}: {operation()}", messages.SUCCESS)
        except WebhookError as exc:
            self.message_user(request, f"{what}: {exc.message}", messages.ERROR)
            return False
        return True

    # --- Actions on selected webhooks ---

    def _each(self, request: HttpRequest, queryset: QuerySet[Webhook], what: str, operation: Callable[[Webhook], str]) -> None:
        for webhook in queryset:
            self._run(request, f"{what} {webhook.x_id}", partial(operation, webhook))

    @admin.action(description="Re-run X's CRC check (re-enables an invalid webhook)", permissions=["manage"])
    def validate(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        self._each(request, queryset, "CRC check of", _validate)

    @admin.action(description="Subscribe the bot account", permissions=["manage"])
    def subscribe(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        self._each(request, queryset, "Subscribe to", _subscribe)

    @admin.action(description="Unsubscribe the bot account", permissions=["manage"])
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        self._each(request, queryset, "Unsubscribe from", _unsubscribe)

    @admin.action(description="Check the bot account's subscription", permissions=["manage"])
    def check_subscription(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        self._each(request, queryset, "Subscription to", _check)

    @admin.action(description="Delete on X", permissions=["manage"])
    def delete_on_x(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        self._each(request, queryset, "Delete", _delete)


def _validate(webhook: Webhook) -> str:
    webhooks.webhook_validate(webhook)
    return "X ran the CRC check and it passed: the webhook is valid"


def _subscribe(webhook: Webhook) -> str:
    webhooks.subscription_create(webhook)
    return "the bot account is subscribed"


def _unsubscribe(webhook: Webhook) -> str:
    webhooks.subscription_delete(webhook)
    return "the bot account is unsubscribed"


def _check(webhook: Webhook) -> str:
    return "the bot account is subscribed" if webhooks.subscription_check(webhook) else "the bot account is NOT subscribed"


def _delete(webhook: Webhook) -> str:
    webhooks.webhook_delete(webhook)
    return "deleted on X"


def webhook_summary(webhook: Webhook) -> SafeString:
    """One webhook in a line, for the dashboard."""
    return format_html(
        '<a href="{}">{}</a> {} {}',
        reverse("admin:bot_webhook_changelist"),
        webhook.url,
        WebhookAdmin.validity(None, webhook),  # type: ignore[arg-type]
        WebhookAdmin.subscription(None, webhook),  # type: ignore[arg-type]
    )
