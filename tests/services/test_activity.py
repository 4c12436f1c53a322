"""bot.services.activity: the bot's X Activity subscriptions, created once, listed and deleted on the fake X."""

from __future__ import annotations

import pytest

from bot import services, x_api
from bot.events.samples import BOT_ID
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]

WEBHOOK_ID = "1800000000000000001"


def test_it_subscribes_the_webhook_to_the_bots_post_events_once(fake_x):
    first = services.activity_subscriptions_create(webhook_x_id=WEBHOOK_ID)
    again = services.activity_subscriptions_create(webhook_x_id=WEBHOOK_ID)

    assert [s.event_type for s in first] == ["post.mention.create", "post.reply.create", "post.quote.create"]
    assert again == first and len(fake_x.activity_subscriptions) == 3  # nothing asked for twice
    for body in fake_x.activity_subscriptions.values():
        assert body["filter"] == {"user_id": BOT_ID} and body["webhook_id"] == WEBHOOK_ID
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("bearer",))


def test_it_lists_only_the_bots_subscriptions_unless_asked_for_all(fake_x):
    services.activity_subscriptions_create(webhook_x_id=WEBHOOK_ID, event_types=("post.mention.create",))
    x_api.activity_subscription_create("post.create", user_id="1500000000000000002", webhook_id=WEBHOOK_ID)

    assert [s.user_id for s in services.activity_subscriptions_list()] == [BOT_ID]
    assert len(services.activity_subscriptions_list(bot_only=False)) == 2


def test_it_deletes_one_or_all_of_the_bots(fake_x):
    created = services.activity_subscriptions_create(webhook_x_id=WEBHOOK_ID)
    services.activity_subscription_delete(created[0].subscription_id)
    assert len(fake_x.activity_subscriptions) == 2

    deleted = services.activity_subscriptions_delete(webhook_x_id=WEBHOOK_ID)

    assert sorted(deleted) == sorted(s.subscription_id for s in created[1:]) and fake_x.activity_subscriptions == {}
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("bearer",))


def test_a_malformed_answer_is_a_typed_error(fake_x):
    fake_x.queue("GET", "/2/activity/subscriptions", 200, {"data": [{"no": "id"}]})
    with pytest.raises(x_api.XApiError, match="malformed"):
        services.activity_subscriptions_list()
