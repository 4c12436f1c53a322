"""bot.admin.webhooks: the webhook page against the fake X; only staff with the webhook permission operate it."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from bot.models import Webhook
from tests.fixtures.fake_x import BOT_USER_ID, assert_x_saw_only_valid_requests

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:bot_webhook_changelist")
URL = "https://bot.example.com/webhooks/x/"


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_register_subscribe_check_and_delete_from_the_page(admin_client, fake_x):
    registered = admin_client.post(reverse("admin:bot_webhook_register"), {"url": URL}, follow=True)
    webhook = Webhook.objects.get()
    act = lambda action: _messages(admin_client.post(PAGE, {"action": action, "_selected_action": [webhook.pk]}, follow=True))  # noqa: E731

    assert any("X's CRC check passed" in m for m in _messages(registered)) and webhook.url == URL
    assert any("subscribed" in m for m in act("subscribe")) and (webhook.x_id, BOT_USER_ID) in fake_x.subscriptions
    assert any("the bot account is subscribed" in m for m in act("check_subscription"))
    assert any("CRC check" in m and "passed" in m for m in act("validate"))
    assert any("unsubscribed" in m for m in act("unsubscribe")) and fake_x.subscriptions == set()
    page = admin_client.get(PAGE).content.decode()
    assert URL in page and "not subscribed" in page and "Account Activity API" in page
    assert any("deleted on X" in m for m in act("delete_on_x")) and not Webhook.objects.exists() and fake_x.webhooks == {}
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("oauth1", "bearer"))


def test_x_refusals_show_in_plain_words(admin_client, fake_x):
    fake_x.crc_fails = True

    response = admin_client.post(reverse("admin:bot_webhook_register"), {"url": URL}, follow=True)

    assert any("did not get the right answer" in m and "CrcValidationFailed" in m for m in _messages(response))
    assert not Webhook.objects.exists()


def test_sync_shows_what_x_lists_and_an_invalid_webhook_loudly(admin_client, fake_x):
    fake_x.webhooks["1800000000000000009"] = {
        "id": "1800000000000000009",
        "url": URL,
        "valid": False,
        "created_at": "2026-11-30T10:00:00.000Z",
    }

    admin_client.post(reverse("admin:bot_webhook_sync"))

    assert "INVALID" in admin_client.get(PAGE).content.decode()
    assert "X has marked the webhook" in admin_client.get(reverse("console-dashboard")).content.decode()


def test_register_without_credentials_says_nothing_was_sent(admin_client, fake_x, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")

    response = admin_client.post(reverse("admin:bot_webhook_register"), {"url": URL}, follow=True)

    assert any("nothing was sent to X" in m and "X_BEARER_TOKEN" in m for m in _messages(response)) and fake_x.requests == []


def test_staff_without_the_webhook_permission_can_look_but_not_register(client, fake_x):
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_webhook"))
    client.force_login(staff)
    webhook = Webhook.objects.create(x_id="1800000000000000001", url=URL, valid=True)

    page = client.get(PAGE)
    register = client.post(reverse("admin:bot_webhook_register"), {"url": URL})
    sync = client.post(reverse("admin:bot_webhook_sync"))
    action = client.post(PAGE, {"action": "delete_on_x", "_selected_action": [webhook.pk]})

    assert page.status_code == 200 and "Register on X" not in page.content.decode()
    assert register.status_code == 403 and sync.status_code == 403
    assert action.status_code in (200, 302) and Webhook.objects.exists()  # Django refuses an action the user may not run
    assert fake_x.requests == []

    staff.user_permissions.add(Permission.objects.get(codename="manage_webhooks"))
    client.force_login(User.objects.get(pk=staff.pk))
    assert client.post(reverse("admin:bot_webhook_register"), {"url": URL + "2"}).status_code == 302
    assert Webhook.objects.filter(url=URL + "2").exists()


def test_anonymous_and_non_staff_users_get_nothing(client, fake_x):
    for user in (None, User.objects.create_user("someone", password="pw")):
        if user:
            client.force_login(user)
        for response in (client.get(PAGE), client.post(reverse("admin:bot_webhook_register"), {"url": URL})):
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert fake_x.requests == [] and not Webhook.objects.exists()


def test_a_register_url_is_never_a_get(admin_client, fake_x):
    assert admin_client.get(reverse("admin:bot_webhook_register"), {"url": URL}).status_code == 405
    assert fake_x.requests == []
