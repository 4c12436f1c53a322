"""bot.admin.activity: the X Activity subscriptions on the webhook page, against the fake X."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from bot import x_api
from bot.models import Webhook
from tests.fixtures.fake_x import BOT_USER_ID, assert_x_saw_only_valid_requests

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]

PAGE = reverse("admin:bot_webhook_changelist")
SUBSCRIBE = reverse("admin:bot_webhook_activity_subscribe")
DELETE = reverse("admin:bot_webhook_activity_delete")
WEBHOOK_ID = "1800000000000000001"
OTHER_USER = "1500000000000000002"


@pytest.fixture
def webhook():
    return Webhook.objects.create(x_id=WEBHOOK_ID, url="https://bot.example.com/webhooks/x/", valid=True)


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _listed(client) -> str:
    return client.get(PAGE, {"x_activity": "1"}).content.decode()


def test_the_page_asks_x_only_when_the_operator_asks(admin_client, fake_x, webhook):
    page = admin_client.get(PAGE).content.decode()

    assert "Load X Activity subscriptions" in page and fake_x.requests == []
    assert admin_client.get(PAGE, {"x_activity": "1"}).status_code == 200  # the parameter is not taken for a filter
    assert [r.path for r in fake_x.requests] == ["/2/activity/subscriptions"]


def test_subscribe_then_list_and_delete_from_the_page(admin_client, fake_x, webhook):
    x_api.activity_subscription_create("post.create", user_id=OTHER_USER, webhook_id=WEBHOOK_ID)

    subscribed = admin_client.post(SUBSCRIBE, {"webhook_x_id": WEBHOOK_ID}, follow=True)

    assert any("post.mention.create, post.reply.create, post.quote.create" in m for m in _messages(subscribed))
    bots = {s["event_type"]: s for s in fake_x.activity_subscriptions.values() if s["filter"]["user_id"] == BOT_USER_ID}
    assert sorted(bots) == ["post.mention.create", "post.quote.create", "post.reply.create"]
    assert all(s["webhook_id"] == WEBHOOK_ID for s in bots.values())
    page = subscribed.content.decode()  # redirected back with the list shown
    assert "(the bot)" in page and OTHER_USER in page and "post.create" in page
    assert all(s["subscription_id"] in page for s in fake_x.activity_subscriptions.values())

    again = admin_client.post(SUBSCRIBE, {"webhook_x_id": WEBHOOK_ID}, follow=True)
    assert len(fake_x.activity_subscriptions) == 4 and any("Subscribe the bot: webhook" in m for m in _messages(again))

    mention = bots["post.mention.create"]["subscription_id"]
    deleted = admin_client.post(DELETE, {"subscription_id": mention}, follow=True)

    assert any(f"X Activity subscription {mention}: deleted on X" in m for m in _messages(deleted))
    assert mention not in fake_x.activity_subscriptions and len(fake_x.activity_subscriptions) == 3
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("bearer",))


def test_x_refusals_show_in_plain_words_not_a_500(admin_client, fake_x, webhook):
    fake_x.queue("GET", "/2/activity/subscriptions", 403, {"title": "Forbidden", "detail": "not on this plan", "type": "about:blank"})
    refused = admin_client.get(PAGE, {"x_activity": "1"})
    gone = admin_client.post(DELETE, {"subscription_id": "1750000000000000999"}, follow=True)

    assert refused.status_code == 200 and "X did not accept the app&#x27;s credentials" in refused.content.decode()
    assert "not on this plan" in refused.content.decode()
    assert any("X has no such subscription" in m for m in _messages(gone))


def test_missing_credentials_say_nothing_was_sent(admin_client, fake_x, webhook, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")

    page = _listed(admin_client)
    subscribed = admin_client.post(SUBSCRIBE, {"webhook_x_id": WEBHOOK_ID}, follow=True)

    assert "nothing was sent to X" in page and "X_BEARER_TOKEN" in page
    assert any("nothing was sent to X" in m and "X_BEARER_TOKEN" in m for m in _messages(subscribed))
    assert fake_x.requests == []


def test_a_webhook_x_does_not_list_is_refused_before_x_is_asked(admin_client, fake_x, webhook):
    response = admin_client.post(SUBSCRIBE, {"webhook_x_id": "1800000000000000777"}, follow=True)

    assert any("choose a webhook X lists" in m for m in _messages(response))
    assert [r.method for r in fake_x.requests] == ["GET"] and fake_x.activity_subscriptions == {}  # the list shown after, no POST


def test_staff_without_the_webhook_permission_can_list_but_not_subscribe_or_delete(client, fake_x, webhook):
    created = x_api.activity_subscription_create("post.mention.create", user_id=BOT_USER_ID, webhook_id=WEBHOOK_ID)
    fake_x.requests.clear()
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_webhook"))
    client.force_login(staff)

    page = client.get(PAGE, {"x_activity": "1"}).content.decode()
    subscribe = client.post(SUBSCRIBE, {"webhook_x_id": WEBHOOK_ID})
    delete = client.post(DELETE, {"subscription_id": created.subscription_id})

    assert created.subscription_id in page and "Subscribe the bot (" not in page and ">Delete<" not in page
    assert subscribe.status_code == 403 and delete.status_code == 403
    assert [r.method for r in fake_x.requests] == ["GET"]  # the listing only
    assert list(fake_x.activity_subscriptions) == [created.subscription_id]


def test_anonymous_and_non_staff_users_get_nothing_and_a_get_changes_nothing(client, admin_client, fake_x, webhook):
    for user in (None, User.objects.create_user("someone", password="pw")):
        if user:
            client.force_login(user)
        for response in (client.get(PAGE, {"x_activity": "1"}), client.post(SUBSCRIBE, {"webhook_x_id": WEBHOOK_ID})):
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert admin_client.get(SUBSCRIBE, {"webhook_x_id": WEBHOOK_ID}).status_code == 405
    assert admin_client.get(DELETE, {"subscription_id": "1"}).status_code == 405
    assert fake_x.requests == []
