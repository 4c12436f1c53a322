"""bot.admin.recovery and the dashboard's Recovery panel: replay jobs, the reconcile's cursor, the reply budget."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bot.models import RateBudget, ReconcileCursor, ReplayJob
from bot.services.pacing import REPLIES
from tests.fixtures.fake_x import BOT_USER_ID

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("console-dashboard")
LISTS = {
    "replayjob": reverse("admin:bot_replayjob_changelist"),
    "reconcilecursor": reverse("admin:bot_reconcilecursor_changelist"),
    "ratebudget": reverse("admin:bot_ratebudget_changelist"),
}


@pytest.fixture
def records():
    now = timezone.now()
    failed = ReplayJob.objects.create(
        webhook_x_id="1800000000000000001", job_x_id="1750000000000000001", from_at=now - timedelta(hours=5), to_at=now,
        status=ReplayJob.Status.FAILED, last_error="X: failed no events",
    )  # fmt: skip
    running = ReplayJob.objects.create(
        webhook_x_id="1800000000000000001", job_x_id="1750000000000000002", from_at=now - timedelta(hours=2), to_at=now
    )
    cursor = ReconcileCursor.objects.create(
        account_x_id=BOT_USER_ID, since_x_id="1600000000000000009", posts_read=12, last_run_at=now - timedelta(minutes=3),
        last_summary="12 posts read (X bills each post read), 2 recorded that the webhook never brought, 1 page, up to date",
    )  # fmt: skip
    budget = RateBudget.objects.create(endpoint=REPLIES, limit=100, remaining=37, resets_at=now + timedelta(minutes=9))
    return {"failed": failed, "running": running, "cursor": cursor, "budget": budget}


def test_each_page_shows_its_records_for_staff(admin_client, records):
    pages = {
        LISTS["replayjob"]: ["1750000000000000002", "running", "X: failed no events", 'class="console-badge"'],
        reverse("admin:bot_replayjob_change", args=[records["running"].pk]): ["1750000000000000002", "running"],
        LISTS["reconcilecursor"]: [BOT_USER_ID, "1600000000000000009", "up to date"],
        reverse("admin:bot_reconcilecursor_change", args=[records["cursor"].pk]): ["12 posts read"],
        LISTS["ratebudget"]: ["POST /2/tweets", "37", "100"],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        for text in expected:
            assert text in response.content.decode(), (url, text)


def test_the_records_cannot_be_added_changed_or_deleted(admin_client, records):
    for name in LISTS:
        assert admin_client.get(reverse(f"admin:bot_{name}_add")).status_code == 403
    job = records["running"]
    admin_client.post(reverse("admin:bot_replayjob_change", args=[job.pk]), {"status": "complete", "last_error": "forged"})
    assert admin_client.post(reverse("admin:bot_replayjob_delete", args=[job.pk]), {"post": "yes"}).status_code == 403
    budget = records["budget"]
    assert admin_client.post(reverse("admin:bot_ratebudget_delete", args=[budget.pk]), {"post": "yes"}).status_code == 403
    job.refresh_from_db()
    assert job.status == ReplayJob.Status.RUNNING and job.last_error == "" and RateBudget.objects.filter(pk=budget.pk).exists()


def test_staff_with_the_view_permission_see_them(client, records):
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_replayjob", "view_reconcilecursor", "view_ratebudget"]))
    client.force_login(staff)

    assert all(client.get(url).status_code == 200 for url in LISTS.values())
    assert client.get(reverse("admin:bot_optout_changelist")).status_code == 403


def test_anonymous_and_non_staff_users_get_nothing(client, records):
    for user in (None, User.objects.create_user("someone", password="pw")):
        if user:
            client.force_login(user)
        for url in (*LISTS.values(), DASHBOARD):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_the_dashboard_shows_the_recovery_panel(admin_client, records):
    page = admin_client.get(DASHBOARD).content.decode()

    assert 'id="recovery"' in page and "running</span> job 1750000000000000002" in page
    assert "2 recorded that the webhook never brought" in page and "last run" in page
    assert "37 / 100 left" in page and "resets" in page


def test_the_panel_says_when_nothing_is_known_yet(admin_client):
    page = admin_client.get(DASHBOARD).content.decode()

    assert "none running" in page and "never run" in page and "not known yet" in page


def test_the_panel_shows_the_last_job_when_none_runs(admin_client, records):
    ReplayJob.objects.filter(pk=records["running"].pk).move(ReplayJob.Status.RUNNING, ReplayJob.Status.COMPLETE)

    page = admin_client.get(DASHBOARD).content.decode()

    assert "none running" in page and "the last complete" in page


def test_the_lists_read_a_fixed_number_of_queries(admin_client, records):
    counts = {}
    for url in LISTS.values():
        with CaptureQueriesContext(connection) as queries:
            admin_client.get(url)
        counts[url] = len(queries)
    now = timezone.now()
    for n in range(5):
        ReplayJob.objects.create(webhook_x_id="1", job_x_id=str(n + 1), from_at=now, to_at=now, status=ReplayJob.Status.COMPLETE)
        ReconcileCursor.objects.create(account_x_id=str(n + 1))
        RateBudget.objects.create(endpoint=f"GET /2/thing/{n}")
    for url in LISTS.values():
        with CaptureQueriesContext(connection) as queries:
            admin_client.get(url)
        assert len(queries) == counts[url], url
