"""bot.admin.deliveries: the body pretty-printed, its received time, links to its posts, replay."""

import json

import pytest
from django.urls import reverse

from bot.events import samples as payloads
from bot.models import Delivery, Tweet
from tests.fixtures.records import record_delivery, record_tweet

pytestmark = pytest.mark.django_db


def test_a_deliverys_page_pretty_prints_its_body_and_links_its_posts(admin_client):
    delivery = record_delivery(body=b'{"for_user_id":"1","tweet_create_events":[{"id_str":"5"}]}')
    tweet = record_tweet(delivery=delivery)

    page = admin_client.get(reverse("admin:bot_delivery_change", args=[delivery.pk])).content.decode()

    assert "{\n  &quot;for_user_id&quot;: &quot;1&quot;," in page
    assert reverse("admin:bot_tweet_change", args=[tweet.pk]) in page and tweet.x_id in page
    assert "Received at" in page or "received at" in page.lower()


def test_an_invalid_body_is_shown_as_it_came(admin_client):
    delivery = record_delivery(body=b"not json <b>", outcome=Delivery.Outcome.INVALID)

    page = admin_client.get(reverse("admin:bot_delivery_change", args=[delivery.pk])).content.decode()

    assert "not json &lt;b&gt;" in page


def test_replay_records_a_stored_delivery_again_and_known_posts_change_nothing(admin_client, dispatched):
    body = json.dumps(payloads.delivery(payloads.tweet())).encode()
    first = record_delivery(body=body)
    broken = record_delivery(body=b"[1]", outcome=Delivery.Outcome.INVALID)
    url = reverse("admin:bot_delivery_changelist")

    once = admin_client.post(url, {"action": "replay", "_selected_action": [first.pk, broken.pk]}, follow=True)
    twice = admin_client.post(url, {"action": "replay", "_selected_action": [first.pk]}, follow=True)

    once_messages = [str(m) for m in once.context["messages"]]
    assert any("1 new post" in m for m in once_messages) and any("not replayed, the body is not a JSON object" in m for m in once_messages)
    assert any("0 new posts" in str(m) for m in twice.context["messages"])
    assert Tweet.objects.count() == 1
