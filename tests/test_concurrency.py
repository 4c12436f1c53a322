"""Duplicate deliveries racing on PostgreSQL (skipped on other databases)."""

import threading
from unittest import mock

import pytest
from django.db import connection, connections
from django.test import Client

from bot import dispatch
from bot.models import Delivery, Tweet
from tests import payloads
from tests.fixtures.webhook import WEBHOOK_URL, encode, sign

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL pointing at PostgreSQL"),
]


def post_concurrently(body: bytes, copies: int) -> list[int]:
    barrier = threading.Barrier(copies)
    statuses: list[int] = []

    def send():
        try:
            barrier.wait()
            response = Client().generic("POST", WEBHOOK_URL, body, content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=sign(body))
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_the_same_delivery_twenty_times_at_once_yields_one_tweet_and_one_dispatch(consumer_secret, monkeypatch):
    seam = mock.create_autospec(dispatch.dispatch)
    monkeypatch.setattr(dispatch, "dispatch", seam)
    body = encode(payloads.delivery(payloads.tweet(photos=4)))

    statuses = post_concurrently(body, 20)

    assert statuses == [200] * 20
    assert Delivery.objects.count() == 20
    assert Tweet.objects.count() == 1
    assert seam.call_count == 1
    assert seam.call_args.args == ("tweet_process", Tweet.objects.get().pk)
