"""bot.selectors.dashboard: what the dashboard reads, counted right and in a fixed number of queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bot.models import RateBudget, ReconcileCursor, ReplayJob, Reply, Tweet
from bot.selectors import dashboard
from bot.services.pacing import REPLIES
from tests.fixtures.pipeline import age
from tests.fixtures.records import PhotoSpec, record_tweet

pytestmark = pytest.mark.django_db


def test_status_counts_fall_in_their_windows(django_assert_max_num_queries):
    now = timezone.now()
    record_tweet(status=Tweet.Status.DONE)
    for days in (3, 20, 40):
        old = record_tweet(status=Tweet.Status.FAILED)
        Tweet.objects.filter(pk=old.pk).update(received_at=now - timedelta(days=days))

    with django_assert_max_num_queries(3):
        posts, photos, replies = dashboard.status_counts(now)

    rows = {value: counts for value, _, counts in posts.rows}
    assert posts.windows == ("24 h", "7 d", "30 d")
    assert rows["done"] == [1, 1, 1] and rows["failed"] == [0, 1, 2] and rows["received"] == [0, 0, 0]
    assert photos.title == "Photos" and replies.title == "Replies"


def test_days_count_posts_replies_photos_and_their_cost(monkeypatch, django_assert_max_num_queries):
    monkeypatch.setenv("IMAGEBOT_PRICE_PER_REPLY", "0.01")
    monkeypatch.setenv("IMAGEBOT_PRICE_PER_PHOTO", "0.001")
    record_tweet(photos=[PhotoSpec(labels=[("Dog", 99.0)]), PhotoSpec(labels=[("Cat", 99.0)])], reply="Hi.")
    record_tweet(reply="Hi again.", reply_status=Reply.Status.DRY_RUN)
    trial = record_tweet()
    Tweet.objects.filter(pk=trial.pk).update(is_trial=True)

    with django_assert_max_num_queries(4):
        days = dashboard.days()

    assert len(days) == dashboard.CHART_DAYS and days[-1]["day"] == timezone.localdate()
    today = days[-1]
    assert (today["posts"], today["replies_posted"], today["replies_dry_run"], today["photos_recognised"]) == (2, 1, 1, 2)
    assert today["cost"] == pytest.approx(0.012)
    assert sum(day["posts"] for day in days[:-1]) == 0


def test_top_labels_leave_moderation_labels_out():
    record_tweet(photos=[PhotoSpec(labels=[("Dog", 99.0)], moderation=[("Violence", 90.0)])])
    record_tweet(photos=[PhotoSpec(labels=[("Dog", 98.0), ("Pet", 97.0)])])

    assert dashboard.top_labels() == [("Dog", 2), ("Pet", 1)]


def test_failures_are_grouped_by_reason():
    for reason in ("reply: 403 Forbidden", "reply: 403 Forbidden", "gave up after 5 attempts"):
        tweet = record_tweet(status=Tweet.Status.FAILED)
        Tweet.objects.filter(pk=tweet.pk).update(last_error=reason)

    assert dashboard.failure_reasons() == [("reply: 403 Forbidden", 2), ("gave up after 5 attempts", 1)]


def test_stuck_and_rate_limited_posts():
    stuck = record_tweet(status=Tweet.Status.RECEIVED)
    age(stuck)
    fresh = record_tweet(status=Tweet.Status.PROCESSING)
    limited = record_tweet(status=Tweet.Status.RECEIVED)
    Tweet.objects.filter(pk=limited.pk).update(not_before=timezone.now() + timedelta(hours=2))
    age(limited)

    assert dashboard.stuck() == (1, [stuck])
    count, waiting = dashboard.rate_limited()
    assert count == 1 and waiting == [Tweet.objects.get(pk=limited.pk)] and fresh not in waiting


def test_health_names_the_credentials_set_and_never_their_values(monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "secret-bearer-value")

    health = dashboard.health()

    assert health["credentials"]["X_BEARER_TOKEN"] is True and health["credentials"]["X_ACCESS_TOKEN"] is False
    assert "secret-bearer-value" not in repr(health) and health["dry_run"] is True


def test_recovery_reads_the_latest_job_the_cursor_and_the_reply_budget(django_assert_max_num_queries):
    now = timezone.now()
    ReplayJob.objects.create(webhook_x_id="1", job_x_id="7", from_at=now, to_at=now, status=ReplayJob.Status.FAILED)
    running = ReplayJob.objects.create(webhook_x_id="1", job_x_id="8", from_at=now, to_at=now)
    ReconcileCursor.objects.create(account_x_id="2")
    ran = ReconcileCursor.objects.create(account_x_id="3", last_run_at=now)
    RateBudget.objects.create(endpoint="GET /2/other", remaining=1)
    budget = RateBudget.objects.create(endpoint=REPLIES, limit=100, remaining=5)

    with django_assert_max_num_queries(3):
        found = dashboard.recovery()

    assert found == {"replay_job": running, "cursor": ran, "reply_budget": budget}
