"""bot.services.recording under real concurrency: duplicate deliveries racing on PostgreSQL (skipped elsewhere)."""

import time

import pytest

from bot import services
from bot.events import samples as payloads
from bot.inserting import Insert
from bot.models import Delivery, Photo, Tweet
from tests.fixtures.racing import POSTGRES_ONLY, race
from tests.fixtures.webhook import encode, webhook_post

pytestmark = POSTGRES_ONLY


@pytest.fixture
def slow_photo_inserts(monkeypatch):
    """Each post's photo insert waits a moment, so its row lock is held while others race."""
    real_run = Insert.run

    def slow_run(self, cursor=None):
        if self.model is Photo:
            time.sleep(0.05)
        return real_run(self, cursor)

    monkeypatch.setattr(Insert, "run", slow_run)


def test_the_same_delivery_twenty_times_at_once_yields_one_tweet_and_one_dispatch(consumer_secret, dispatched):
    body = encode(payloads.delivery(payloads.tweet(photos=4)))

    statuses = race(*[webhook_post(body)] * 20)

    assert statuses == [200] * 20
    assert Delivery.objects.count() == 20
    assert Tweet.objects.count() == 1
    assert dispatched.call_count == 1
    assert dispatched.call_args.args == (services.tweet_process, Tweet.objects.get().pk)


def test_deliveries_sharing_posts_in_opposite_orders_do_not_deadlock(consumer_secret, dispatched, slow_photo_inserts):
    first, second = payloads.tweet(), payloads.tweet()
    forward, backward = encode(payloads.delivery(first, second)), encode(payloads.delivery(second, first))

    statuses = race(*[webhook_post(body) for body in [forward, backward] * 5])

    assert statuses == [200] * 10
    assert Delivery.objects.filter(outcome=Delivery.Outcome.RECORDED).count() == 10
    assert Tweet.objects.count() == 2 and dispatched.call_count == 2


def test_crossed_creations_and_deletions_do_not_deadlock(consumer_secret, dispatched, slow_photo_inserts):
    first, second = payloads.tweet(), payloads.tweet()
    one = encode(payloads.delivery(first, tweet_delete_events=[payloads.delete_event(second["id_str"])]))
    other = encode(payloads.delivery(second, tweet_delete_events=[payloads.delete_event(first["id_str"])]))

    statuses = race(*[webhook_post(body) for body in [one, other] * 3])

    assert statuses == [200] * 6
    assert set(Tweet.objects.values_list("status", flat=True)) == {Tweet.Status.DELETED}
    assert Tweet.objects.count() == 2


def test_the_same_post_by_account_activity_x_activity_and_reconcile_at_once_is_recorded_and_dispatched_once(
    fake_x, dispatched, slow_photo_inserts
):
    from bot.models import ReconcileCursor

    tweet_id = payloads.next_id()
    post = payloads.v2_post(tweet_id=tweet_id)
    fake_x.add_post(post, media=[payloads.v2_media(post["attachments"]["media_keys"][0])], username="ana")
    ReconcileCursor.objects.create(account_x_id=payloads.BOT_ID, since_x_id="1600000000000000000")
    by_account_activity = encode(payloads.delivery(payloads.tweet(tweet_id=tweet_id)))
    by_x_activity = encode(payloads.activity_delivery(post))

    results = race(
        *[webhook_post(by_account_activity)] * 4,
        *[webhook_post(by_x_activity)] * 4,
        lambda: services.mentions_reconcile().posts_read,
    )

    assert results == [200] * 8 + [1]
    assert Tweet.objects.count() == 1 and Tweet.objects.get().x_id == tweet_id
    assert dispatched.call_count == 1
    assert Delivery.objects.filter(outcome=Delivery.Outcome.RECORDED).count() == 8
