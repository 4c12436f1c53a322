"""X Activity API subscriptions on the webhook page: which post events X delivers, and for whom.

Listing them asks X (GET /2/activity/subscriptions, app-only), so the page lists them only
when the operator asks (`?x_activity=1`, the "Load X Activity subscriptions" button); nothing
is cached. Subscribing and deleting call bot.services.activity, by POST only, and need the
webhook page's `bot.manage_webhooks` permission. X's refusals are shown in plain words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from bot import conf, services
from bot.models import Webhook
from bot.services.activity import ACTIVITY_EVENT_TYPES

SHOW_PARAM = "x_activity"  # on the change list: list the subscriptions from X


class _ChangeList(ChangeList):
    """The webhook list, with SHOW_PARAM left out of its filters."""

    def get_filters_params(self, params: dict | None = None) -> dict:
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(SHOW_PARAM, None)
        return lookup_params


def failure_words(exc: Exception) -> str:
    """What went wrong, for the operator: whether X was asked at all, and X's own reason."""
    from bot import x_api  # imported when used: a cold start loads the admin without X's client

    if isinstance(exc, x_api.XApiError):
        if exc.status is None and exc.permanent:
            return f"nothing was sent to X: {exc.message}"  # credentials or ids checked before the call
        if exc.status in (401, 403):
            return f"X did not accept the app's credentials for this: {exc.message}"
        if exc.status == 404:
            return f"X has no such subscription (deleted elsewhere?): {exc.message}"
        return f"X refused: {exc.message}"
    return str(exc)


class ActivitySubscriptionsMixin:
    """The X Activity section of WebhookAdmin: its URLs, its context, its two POST views."""

    message_user: Callable[..., None]
    admin_site: Any

    def has_manage_permission(self, request: HttpRequest) -> bool:
        raise NotImplementedError

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _ChangeList

    def activity_urls(self) -> list[URLPattern]:
        return [
            path(
                "activity/subscribe/",
                self.admin_site.admin_view(require_POST(self.activity_subscribe_view)),
                name="bot_webhook_activity_subscribe",
            ),
            path(
                "activity/delete/",
                self.admin_site.admin_view(require_POST(self.activity_delete_view)),
                name="bot_webhook_activity_delete",
            ),
        ]

    def activity_context(self, request: HttpRequest) -> dict[str, Any]:
        """The section's context; X is asked only on a GET that asks for it."""
        context: dict[str, Any] = {
            "activity_shown": False,
            "activity_event_types": ACTIVITY_EVENT_TYPES,
            "activity_webhooks": list(Webhook.objects.values_list("x_id", "url")),
            "activity_bot_user_id": conf.x_bot_user_id(),
            "activity_param": SHOW_PARAM,
        }
        if request.method == "GET" and request.GET.get(SHOW_PARAM):
            context["activity_shown"] = True
            try:
                context["activity_subscriptions"] = services.activity_subscriptions_list(bot_only=False)
            except _failures() as exc:
                context["activity_error"] = failure_words(exc)
        return context

    def _activity_back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(f"{reverse('admin:bot_webhook_changelist')}?{SHOW_PARAM}=1")

    def _activity_run(self, request: HttpRequest, what: str, operation: Callable[[], str]) -> None:
        if not self.has_manage_permission(request):
            raise PermissionDenied
        try:
            self.message_user(request, f"{what}: {operation()}", messages.SUCCESS)
        except _failures() as exc:
            self.message_user(request, f"{what}: {failure_words(exc)}", messages.ERROR)

    def activity_subscribe_view(self, request: HttpRequest) -> HttpResponse:
        webhook_x_id = request.POST.get("webhook_x_id", "").strip()

        def subscribe() -> str:
            if not Webhook.objects.filter(x_id=webhook_x_id).exists():
                raise services.PermanentFailure("nothing was sent to X: choose a webhook X lists (sync the webhooks first)")
            made = services.activity_subscriptions_create(webhook_x_id=webhook_x_id)
            return f"webhook {webhook_x_id} gets {', '.join(s.event_type for s in made)} for the bot account"

        self._activity_run(request, "Subscribe the bot", subscribe)
        return self._activity_back()

    def activity_delete_view(self, request: HttpRequest) -> HttpResponse:
        subscription_id = request.POST.get("subscription_id", "").strip()

        def delete() -> str:
            services.activity_subscription_delete(subscription_id)
            return "deleted on X"

        self._activity_run(request, f"X Activity subscription {subscription_id}", delete)
        return self._activity_back()


def _failures() -> tuple[type[Exception], ...]:
    """What the services raise when X or the configuration says no (evaluated only when something was raised)."""
    from bot import x_api  # imported when used: a cold start loads the admin without X's client

    return (x_api.XApiError, services.PermanentFailure, services.TemporaryFailure)
