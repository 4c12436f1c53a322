"""bot.admin.dashboard: health, counts, charts, failures, stuck, rate-limited, costs; staff only."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bot.models import Tweet, Webhook
from tests.fixtures.fake_x import BEARER_TOKEN, CONSUMER_SECRET
from tests.fixtures.pipeline import DOG_REPLY, age
from tests.fixtures.records import PhotoSpec, record_delivery, record_tweet

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("console-dashboard")


def _activity():
    record_delivery()
    record_tweet(photos=[PhotoSpec(labels=[("Dog", 99.0)])], reply=DOG_REPLY)
    failed = record_tweet(status=Tweet.Status.FAILED)
    Tweet.objects.filter(pk=failed.pk).update(last_error="reply: 403 Forbidden: not permitted")
    stuck = record_tweet(status=Tweet.Status.RECEIVED)
    age(stuck)
    limited = record_tweet(status=Tweet.Status.RECEIVED)
    Tweet.objects.filter(pk=limited.pk).update(not_before=timezone.now() + timedelta(hours=3))
    return {"failed": failed, "stuck": stuck, "limited": limited}


def test_the_dashboard_shows_the_bot_at_a_glance(admin_client, fake_x):
    rows = _activity()
    Webhook.objects.create(x_id="1800000000000000001", url="https://bot.example.com/webhooks/x/", valid=True, subscribed=True)

    page = admin_client.get(DASHBOARD).content.decode()

    assert "posted on X" in page and "X_BEARER_TOKEN set" in page and "rekognition" in page and "local folder" in page
    assert "https://bot.example.com/webhooks/x/" in page and "bot subscribed" in page
    assert BEARER_TOKEN not in page and CONSUMER_SECRET not in page  # which credentials are set, never their values
    assert page.count('<svg class="console-chart"') == 4
    assert "Dog" in page and "reply: 403 Forbidden: not permitted" in page
    assert reverse("admin:bot_tweet_change", args=[rows["stuck"].pk]) in page
    assert reverse("admin:bot_tweet_change", args=[rows["limited"].pk]) in page and "Waiting for X's rate limit: 1" in page
    assert "Stuck past the sweep delay: 1" in page


def test_costs_are_replies_and_photos_times_the_prices(admin_client, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_PRICE_PER_REPLY", "0.5")
    monkeypatch.setenv("IMAGEBOT_PRICE_PER_PHOTO", "0.25")
    record_tweet(photos=[PhotoSpec(labels=[("Dog", 99.0)]), PhotoSpec(labels=[("Cat", 99.0)])], reply=DOG_REPLY)

    page = admin_client.get(DASHBOARD).content.decode()

    assert "Cost, last 30 days: US$ 1.000" in page  # 1 reply × 0.5 + 2 photos × 0.25


def test_dry_run_and_missing_credentials_are_shown(admin_client):
    page = admin_client.get(DASHBOARD).content.decode()

    assert "dry run: composed, not posted" in page and "X_ACCESS_TOKEN not set" in page and "No webhook known" in page


def test_the_sweeper_runs_from_the_dashboard(admin_client, django_capture_on_commit_callbacks):
    stuck = record_tweet(status=Tweet.Status.RECEIVED)
    age(stuck)

    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(reverse("console-sweep"), follow=True)

    assert any("Sweeper: 1 dispatched again" in str(m) for m in response.context["messages"])
    assert admin_client.get(reverse("console-sweep")).status_code == 405


def test_the_dashboard_reads_a_fixed_number_of_queries(admin_client):
    _activity()
    with CaptureQueriesContext(connection) as few:
        admin_client.get(DASHBOARD)
    for _ in range(10):
        _activity()
    with CaptureQueriesContext(connection) as many:
        admin_client.get(DASHBOARD)

    assert len(many) == len(few)


def test_every_admin_page_links_the_dashboard(admin_client):
    for url in (reverse("admin:index"), reverse("admin:bot_tweet_changelist"), reverse("admin:bot_webhook_changelist")):
        assert f'href="{DASHBOARD}"' in admin_client.get(url).content.decode()


def test_anonymous_and_non_staff_users_get_nothing(client):
    for user in (None, User.objects.create_user("someone", password="pw")):
        if user:
            client.force_login(user)
        for response in (client.get(DASHBOARD), client.post(reverse("console-sweep"))):
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
