"""Duplicate deliveries racing on PostgreSQL (skipped on other databases)."""

import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client

from bot import services
from bot.models import Delivery, Photo, Tweet
from bot.events import samples as payloads
from tests.fixtures.webhook import WEBHOOK_URL, encode, sign

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL pointing at PostgreSQL"),
]


@pytest.fixture
def slow_photo_inserts(monkeypatch):
    """Each post's photo insert waits a moment, so its row lock is held while others race."""
    real_bulk_create = Photo.objects.bulk_create

    def slow_bulk_create(*args, **kwargs):
        time.sleep(0.05)
        return real_bulk_create(*args, **kwargs)

    monkeypatch.setattr(Photo.objects, "bulk_create", slow_bulk_create)


def post_concurrently(body: bytes, copies: int) -> list[int]:
    return post_all_at_once([body] * copies)


def post_all_at_once(bodies: list[bytes]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def send(body):
        try:
            barrier.wait()
            response = Client().generic("POST", WEBHOOK_URL, body, content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=sign(body))
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_the_same_delivery_twenty_times_at_once_yields_one_tweet_and_one_dispatch(consumer_secret, dispatched):
    body = encode(payloads.delivery(payloads.tweet(photos=4)))

    statuses = post_concurrently(body, 20)

    assert statuses == [200] * 20
    assert Delivery.objects.count() == 20
    assert Tweet.objects.count() == 1
    assert dispatched.call_count == 1
    assert dispatched.call_args.args == (services.tweet_process, Tweet.objects.get().pk)


def test_deliveries_sharing_posts_in_opposite_orders_do_not_deadlock(consumer_secret, dispatched, slow_photo_inserts):
    first, second = payloads.tweet(), payloads.tweet()
    forward, backward = encode(payloads.delivery(first, second)), encode(payloads.delivery(second, first))

    statuses = post_all_at_once([forward, backward] * 5)

    assert statuses == [200] * 10
    assert Delivery.objects.filter(outcome=Delivery.Outcome.RECORDED).count() == 10
    assert Tweet.objects.count() == 2 and dispatched.call_count == 2


def test_crossed_creations_and_deletions_do_not_deadlock(consumer_secret, dispatched, slow_photo_inserts):
    first, second = payloads.tweet(), payloads.tweet()
    one = encode(payloads.delivery(first, tweet_delete_events=[payloads.delete_event(second["id_str"])]))
    other = encode(payloads.delivery(second, tweet_delete_events=[payloads.delete_event(first["id_str"])]))

    statuses = post_all_at_once([one, other] * 3)

    assert statuses == [200] * 6
    assert set(Tweet.objects.values_list("status", flat=True)) == {Tweet.Status.DELETED}
    assert Tweet.objects.count() == 2
