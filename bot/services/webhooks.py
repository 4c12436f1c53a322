"""The X webhook and the bot account's Account Activity subscription, kept in step with X.

X is the truth: `webhooks_sync` lists the app's webhooks (GET /2/webhooks) into Webhook
rows, and every operation here ends by writing what X answered. The admin's webhook page,
the `x_webhook` command and the scheduled check (bot.tasks.webhook_check) call these.

Every refusal is a WebhookError whose message is plain words for the operator, and says
whether anything was sent to X (`sent`): missing credentials are found before any call.
X Activity API subscriptions (/2/activity/subscriptions) live in their own module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bot import conf
from bot.models import Webhook

if TYPE_CHECKING:
    from bot import x_api

logger = logging.getLogger(__name__)

# X's reasons, by the name X gives them, in words an operator can act on.
PLAIN_REASONS: dict[str, str] = {
    "CrcValidationFailed": (
        "X sent its CRC check to the URL and did not get the right answer: is the URL public, served over https, "
        "and does this deployment have the app's X_CONSUMER_SECRET?"
    ),
    "DuplicateUrlFailed": "a webhook with this URL is already registered for the app: sync, then re-check or delete that one",
    "WebhookLimitExceeded": "the app already has as many webhooks as its X plan allows: delete one first",
    "DuplicateSubscriptionFailed": "the bot account is already subscribed to this webhook",
    "SubscriptionLimitExceeded": "the app already has as many subscriptions as its X plan allows",
}


class WebhookError(Exception):
    """A webhook operation did not happen. `sent`: whether the request reached X at all."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent


def _plain(exc: x_api.XApiError) -> str:
    for code, words in PLAIN_REASONS.items():
        if code in exc.message:
            return f"{words} (X said {code})"
    if exc.status in (401, 403) and "credentials" not in exc.message:
        return f"X did not accept the app's credentials for this: {exc.message}"
    if exc.status == 404:
        return f"X has no such webhook (deleted elsewhere? sync): {exc.message}"
    return exc.message


def _missing(names: tuple[str, ...]) -> list[str]:
    values: dict[str, Callable[[], str | None]] = {
        "X_BEARER_TOKEN": conf.x_bearer_token,
        "X_CONSUMER_KEY": conf.x_consumer_key,
        "X_CONSUMER_SECRET": conf.x_consumer_secret,
        "X_ACCESS_TOKEN": conf.x_access_token,
        "X_ACCESS_TOKEN_SECRET": conf.x_access_token_secret,
    }
    return [name for name in names if not values[name]()]


APP_CREDENTIALS = ("X_BEARER_TOKEN",)
USER_CREDENTIALS = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")


def _require(names: tuple[str, ...], what: str) -> None:
    missing = _missing(names)
    if missing:
        raise WebhookError(f"nothing was sent to X: {what} needs {', '.join(missing)} (not set)", sent=False)


_R = TypeVar("_R")


def _x_call(what: str, call: Callable[[], _R]) -> _R:
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    try:
        return call()
    except x_api.XApiError as exc:
        # The ids are checked before a request leaves: such an error was never sent.
        sent = exc.status is not None or not exc.permanent
        raise WebhookError(f"X refused to {what}: {_plain(exc)}" if sent else f"nothing was sent to X: {exc.message}", sent=sent) from exc


def _when(value: object) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


# --- Reading X ----------------------------------------------------------------------


def webhooks_sync(*, check_subscriptions: bool = True) -> list[Webhook]:
    """Make the Webhook rows what X lists; check the bot's subscription to each (when the
    bot's credentials are set). A webhook X has marked invalid is logged at ERROR level."""
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    _require(APP_CREDENTIALS, "listing the webhooks")
    listed = _x_call("list the webhooks", x_api.webhook_list)
    now = timezone.now()
    seen = []
    for item in listed:
        valid = item.get("valid") is True
        webhook, _ = Webhook.objects.update_or_create(
            x_id=str(item["id"]),
            defaults={
                "url": str(item.get("url", ""))[:500],
                "valid": valid,
                "x_created_at": _when(item.get("created_at")),
                "synced_at": now,
            },
        )
        if not valid:
            if webhook.invalid_since is None:
                Webhook.objects.filter(pk=webhook.pk).update(invalid_since=now)
                webhook.invalid_since = now
            logger.error(
                "X webhook %s (%s) is marked invalid by X: no deliveries reach the bot until its CRC check passes again (re-check it)",
                webhook.x_id,
                webhook.url,
            )
        elif webhook.invalid_since is not None:
            Webhook.objects.filter(pk=webhook.pk).update(invalid_since=None)
            webhook.invalid_since = None
        seen.append(webhook)
    Webhook.objects.exclude(x_id__in=[webhook.x_id for webhook in seen]).delete()
    if check_subscriptions and not _missing(USER_CREDENTIALS):
        for webhook in seen:
            try:
                subscription_check(webhook)
            except WebhookError as exc:
                Webhook.objects.filter(pk=webhook.pk).update(last_error=exc.message)
                webhook.last_error = exc.message
    return seen


def webhook_default(x_id: str | None = None) -> Webhook:
    """The webhook an operation is for: the one named, else the only one X lists."""
    if x_id:
        webhook = Webhook.objects.filter(x_id=x_id).first()
        if webhook is None:
            webhooks_sync(check_subscriptions=False)
            webhook = Webhook.objects.filter(x_id=x_id).first()
        if webhook is None:
            raise WebhookError(f"X lists no webhook {x_id} for this app", sent=True)
        return webhook
    webhooks = list(Webhook.objects.all()) or webhooks_sync(check_subscriptions=False)
    if not webhooks:
        raise WebhookError("the app has no webhook on X: register one first", sent=True)
    if len(webhooks) > 1:
        raise WebhookError(f"the app has {len(webhooks)} webhooks: say which ({', '.join(w.x_id for w in webhooks)})", sent=False)
    return webhooks[0]


# --- Changing X -----------------------------------------------------------------------


def webhook_register(url: str | None = None) -> Webhook:
    """Register `url` (default X_WEBHOOK_URL); X runs a CRC check against it before answering."""
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    url = (url or conf.x_webhook_url() or "").strip()
    if not url:
        raise WebhookError("nothing was sent to X: type the webhook's URL or set X_WEBHOOK_URL", sent=False)
    if not url.startswith(("https://", "http://")):
        raise WebhookError(f"nothing was sent to X: {url!r} is not a web address (https://…/webhooks/x/)", sent=False)
    _require(APP_CREDENTIALS, "registering a webhook")
    created = _x_call("register the webhook", lambda: x_api.webhook_create(url))
    webhook, _ = Webhook.objects.update_or_create(
        x_id=str(created["id"]),
        defaults={
            "url": str(created.get("url") or url)[:500],
            "valid": created.get("valid", True) is not False,
            "x_created_at": _when(created.get("created_at")) or timezone.now(),
            "synced_at": timezone.now(),
            "invalid_since": None,
            "subscribed": False,
            "last_error": "",
        },
    )
    logger.info("X webhook %s registered for %s", webhook.x_id, webhook.url)
    return webhook


def webhook_validate(webhook: Webhook) -> Webhook:
    """Ask X to run the CRC check again (PUT /2/webhooks/{id}): this re-enables an invalid webhook."""
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    _require(APP_CREDENTIALS, "re-checking a webhook")
    rows = Webhook.objects.filter(pk=webhook.pk)
    try:
        _x_call("re-check the webhook", lambda: x_api.webhook_validate(webhook.x_id))
    except WebhookError as exc:
        if exc.sent and "CrcValidationFailed" in exc.message:
            rows.update(valid=False, invalid_since=webhook.invalid_since or timezone.now(), last_error=exc.message)
        else:
            rows.update(last_error=exc.message)
        raise
    rows.update(valid=True, invalid_since=None, last_error="", synced_at=timezone.now())
    webhook.refresh_from_db()
    logger.info("X webhook %s passed its CRC check", webhook.x_id)
    return webhook


def webhook_delete(webhook: Webhook) -> None:
    """Delete the webhook on X (its subscriptions go with it), then its row."""
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    _require(APP_CREDENTIALS, "deleting a webhook")
    try:
        _x_call("delete the webhook", lambda: x_api.webhook_delete(webhook.x_id))
    except WebhookError as exc:
        if not (exc.sent and isinstance(exc.__cause__, x_api.XApiError) and exc.__cause__.status == 404):
            raise  # a 404: X has it no more, which is what was asked
    Webhook.objects.filter(pk=webhook.pk).delete()
    logger.info("X webhook %s deleted", webhook.x_id)


def subscription_create(webhook: Webhook) -> Webhook:
    """Subscribe the bot account's activity (mentions, replies) to the webhook."""
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    _require(USER_CREDENTIALS, "subscribing the bot account")
    rows = Webhook.objects.filter(pk=webhook.pk)
    try:
        _x_call("subscribe the bot account", lambda: x_api.subscription_create(webhook.x_id))
    except WebhookError as exc:
        if "DuplicateSubscriptionFailed" in exc.message:
            rows.update(subscribed=True, subscription_checked_at=timezone.now(), last_error="")
        raise
    rows.update(subscribed=True, subscription_checked_at=timezone.now(), last_error="")
    webhook.refresh_from_db()
    return webhook


def subscription_delete(webhook: Webhook) -> Webhook:
    """Stop the bot account's activity going to the webhook."""
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    _require(APP_CREDENTIALS, "unsubscribing the bot account")
    user_id = conf.x_bot_user_id()
    if not user_id:
        raise WebhookError("nothing was sent to X: the bot account's id is unknown (X_ACCESS_TOKEN starts with it)", sent=False)
    _x_call("unsubscribe the bot account", lambda: x_api.subscription_delete(webhook.x_id, user_id=user_id))
    Webhook.objects.filter(pk=webhook.pk).update(subscribed=False, subscription_checked_at=timezone.now(), last_error="")
    webhook.refresh_from_db()
    return webhook


def subscription_check(webhook: Webhook) -> bool:
    """Ask X whether the bot account is subscribed to the webhook; the row keeps the answer."""
    from bot import x_api  # imported when X is called, not with the admin on a cold start

    _require(USER_CREDENTIALS, "checking the subscription")
    subscribed = _x_call("check the subscription", lambda: x_api.subscription_check(webhook.x_id))
    Webhook.objects.filter(pk=webhook.pk).update(subscribed=subscribed, subscription_checked_at=timezone.now())
    webhook.subscribed = subscribed
    return subscribed


def webhooks_watch() -> list[Webhook]:
    """The schedule: sync, and ask X to re-check (PUT) each webhook it has marked invalid.

    A webhook still invalid after that stays logged at ERROR level and loud on the dashboard."""
    if _missing(APP_CREDENTIALS):
        logger.info("webhook check skipped: X_BEARER_TOKEN is not set")
        return []
    webhooks = webhooks_sync()
    for webhook in webhooks:
        if not webhook.valid:
            try:
                webhook_validate(webhook)
                logger.warning("X webhook %s was invalid; its CRC check passes again", webhook.x_id)
            except WebhookError as exc:
                logger.error("X webhook %s is still invalid: %s", webhook.x_id, exc.message)
    return list(Webhook.objects.all())
