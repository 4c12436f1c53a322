"""bot.services.webhooks against the local fake X: OAuth checked, every body validated against the OpenAPI document."""

import logging

import pytest

from bot.models import Webhook
from bot.services import webhooks
from bot.services.webhooks import WebhookError
from tests.fixtures.fake_x import BOT_USER_ID, assert_x_saw_only_valid_requests

pytestmark = pytest.mark.django_db

URL = "https://bot.example.com/webhooks/x/"


def test_register_sync_validate_subscribe_check_unsubscribe_delete(fake_x):
    webhook = webhooks.webhook_register(URL)
    assert (webhook.url, webhook.valid, webhook.subscribed) == (URL, True, False)
    assert [w.x_id for w in webhooks.webhooks_sync()] == [webhook.x_id]

    webhooks.webhook_validate(webhook)
    webhooks.subscription_create(webhook)
    assert (webhook.x_id, BOT_USER_ID) in fake_x.subscriptions
    assert webhooks.subscription_check(webhook) is True
    webhooks.subscription_delete(webhook)
    assert fake_x.subscriptions == set() and Webhook.objects.get().subscribed is False
    webhooks.webhook_delete(webhook)

    assert not Webhook.objects.exists() and fake_x.webhooks == {}
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("oauth1", "bearer"))


def test_the_url_defaults_to_x_webhook_url(fake_x, monkeypatch):
    monkeypatch.setenv("X_WEBHOOK_URL", URL)
    assert webhooks.webhook_register().url == URL


def test_sync_mirrors_x_and_checks_the_subscription(fake_x):
    kept = webhooks.webhook_register(URL)
    Webhook.objects.create(x_id="1234", url="https://gone.example.com/")  # deleted on X meanwhile
    fake_x.subscriptions.add((kept.x_id, BOT_USER_ID))

    synced = webhooks.webhooks_sync()

    assert [(w.x_id, w.subscribed) for w in synced] == [(kept.x_id, True)]
    assert list(Webhook.objects.values_list("x_id", flat=True)) == [kept.x_id]


def test_sync_logs_a_webhook_x_marked_invalid_at_error_level(fake_x, caplog):
    webhook = webhooks.webhook_register(URL)
    fake_x.webhooks[webhook.x_id]["valid"] = False

    with caplog.at_level(logging.ERROR, logger="bot.services.webhooks"):
        webhooks.webhooks_sync()

    row = Webhook.objects.get()
    assert row.valid is False and row.invalid_since is not None
    assert any(record.levelno == logging.ERROR and "marked invalid" in record.getMessage() for record in caplog.records)


def test_the_watch_asks_x_to_re_check_an_invalid_webhook(fake_x):
    webhook = webhooks.webhook_register(URL)
    fake_x.webhooks[webhook.x_id]["valid"] = False

    watched = webhooks.webhooks_watch()

    assert [w.valid for w in watched] == [True] and fake_x.webhooks[webhook.x_id]["valid"] is True
    assert [r.operation_id for r in fake_x.requests if r.method == "PUT"] == ["validateWebhooks"]


def test_the_watch_keeps_an_invalid_webhook_loud_when_the_check_fails(fake_x, caplog):
    webhook = webhooks.webhook_register(URL)
    fake_x.webhooks[webhook.x_id]["valid"] = False
    fake_x.crc_fails = True

    with caplog.at_level(logging.ERROR, logger="bot.services.webhooks"):
        watched = webhooks.webhooks_watch()

    assert [w.valid for w in watched] == [False]
    assert any("still invalid" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "arrange, operation, words",
    [
        (lambda fake, w: setattr(fake, "crc_fails", True), lambda w: webhooks.webhook_register(URL + "2"), "did not get the right answer"),
        (lambda fake, w: None, lambda w: webhooks.webhook_register(URL), "already registered"),
        (
            lambda fake, w: setattr(fake, "webhook_limit", 1),
            lambda w: webhooks.webhook_register(URL + "2"),
            "as many webhooks as its X plan",
        ),
        (lambda fake, w: webhooks.subscription_create(w), lambda w: webhooks.subscription_create(w), "already subscribed"),
        (lambda fake, w: setattr(fake, "crc_fails", True), lambda w: webhooks.webhook_validate(w), "CRC check"),
    ],
    ids=[
        "CrcValidationFailed",
        "DuplicateUrlFailed",
        "WebhookLimitExceeded",
        "DuplicateSubscriptionFailed",
        "validate-CrcValidationFailed",
    ],
)
def test_x_refusals_are_told_in_plain_words(fake_x, arrange, operation, words, request):
    webhook = webhooks.webhook_register(URL)
    arrange(fake_x, webhook)

    with pytest.raises(WebhookError) as caught:
        operation(webhook)

    assert caught.value.sent and words in caught.value.message
    assert request.node.callspec.id.split("-")[-1] in caught.value.message  # X's own name for it, too
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("oauth1", "bearer"))


def test_a_failed_crc_re_check_marks_the_webhook_invalid(fake_x):
    webhook = webhooks.webhook_register(URL)
    fake_x.crc_fails = True

    with pytest.raises(WebhookError):
        webhooks.webhook_validate(webhook)

    assert Webhook.objects.get().valid is False and "CRC" in Webhook.objects.get().last_error


@pytest.mark.django_db(transaction=True)  # the live server's threads share the database as committed
def test_a_real_crc_check_reaches_the_webhook_and_passes(fake_x, live_server):
    fake_x.crc_over_http = True

    webhook = webhooks.webhook_register(live_server.url + "/webhooks/x/")

    assert webhook.valid
    fake_x.crc_over_http, fake_x.crc_fails = True, False
    with pytest.raises(WebhookError, match="CrcValidationFailed"):
        webhooks.webhook_register(live_server.url + "/nothing-here/")


@pytest.mark.parametrize(
    "unset, operation, needs",
    [
        ("X_BEARER_TOKEN", lambda: webhooks.webhook_register(URL), "X_BEARER_TOKEN"),
        ("X_BEARER_TOKEN", webhooks.webhooks_sync, "X_BEARER_TOKEN"),
        ("X_ACCESS_TOKEN", lambda: webhooks.subscription_create(Webhook.objects.create(x_id="1", url=URL)), "X_ACCESS_TOKEN"),
    ],
)
def test_missing_credentials_send_nothing(fake_x, monkeypatch, unset, operation, needs):
    monkeypatch.delenv(unset)

    with pytest.raises(WebhookError) as caught:
        operation()

    assert not caught.value.sent and needs in caught.value.message and "nothing was sent" in caught.value.message
    assert fake_x.requests == []


def test_deleting_a_webhook_x_no_longer_has_just_forgets_it(fake_x):
    webhook = Webhook.objects.create(x_id="1234", url=URL)

    webhooks.webhook_delete(webhook)

    assert not Webhook.objects.exists()


def test_the_default_webhook_is_the_only_one(fake_x):
    with pytest.raises(WebhookError, match="no webhook on X"):
        webhooks.webhook_default()
    webhook = webhooks.webhook_register(URL)
    assert webhooks.webhook_default() == webhook
    webhooks.webhook_register(URL + "2")
    with pytest.raises(WebhookError, match="say which"):
        webhooks.webhook_default()
    assert webhooks.webhook_default(webhook.x_id) == webhook
