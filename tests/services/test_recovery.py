"""One post, whichever way it comes: Account Activity, X Activity, replay and reconcile, in any order.

End to end against the fake X: the post is recorded once, its photo fetched and
recognised once, and one reply posted, whatever order (and however often) it arrives in.
Real races of the same on PostgreSQL: test_recording_concurrency.py.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from bot import services
from bot.events import samples as payloads
from bot.models import Delivery, ReconcileCursor, ReplayJob, Reply, Tweet
from tests.fixtures.aws import stub_detection
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests
from tests.fixtures.media_server import serve_jpeg
from tests.fixtures.pipeline import DOG, DOG_REPLY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]

OLDER = "1600000000000000000"  # older than any sample post: where the reconcile last stopped


def known_mention(fake_x, url: str, **fields) -> tuple[dict, dict]:
    """One mention with a photo, as X knows it: (its Account Activity tweet, its v2 post)."""
    tweet_id = payloads.next_id()
    post = payloads.v2_post(tweet_id=tweet_id, **fields)
    fake_x.add_post(post, media=[payloads.v2_media(post["attachments"]["media_keys"][0], url=url)], username="ana")
    return payloads.tweet(tweet_id=tweet_id, urls=[url]), post


@pytest.fixture
def reconcile(django_capture_on_commit_callbacks):
    def reconcile_() -> services.ReconcileResult:
        with django_capture_on_commit_callbacks(execute=True):
            return services.mentions_reconcile()

    return reconcile_


@pytest.mark.parametrize("order", list(itertools.permutations(["account_activity", "activity", "reconcile"])), ids="-".join)
def test_the_same_post_by_every_way_in_any_order_is_answered_once(
    order, deliver, deliver_payload, reconcile, fake_x, media_server, rekognition_stub
):
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})  # exactly one recognition
    tweet, post = known_mention(fake_x, url)
    ReconcileCursor.objects.create(account_x_id=payloads.BOT_ID, since_x_id=OLDER)
    ways = {
        "account_activity": lambda: deliver(tweet),
        "activity": lambda: deliver_payload(payloads.activity_delivery(post)),
        "reconcile": reconcile,
    }

    for way in order:
        ways[way]()
    ways[order[0]]()  # and the first way once more, as X redelivers

    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert Reply.objects.get().text == DOG_REPLY
    assert fake_x.posts() == [{"text": DOG_REPLY, "reply": {"in_reply_to_tweet_id": post["id"]}}]
    assert media_server.paths == ["/dog.jpg"]
    rekognition_stub.assert_no_pending_responses()
    assert_x_saw_only_valid_requests(fake_x)


def test_the_reconcile_records_what_the_webhook_missed_and_its_log_line_counts_the_posts_read(
    reconcile, fake_x, media_server, rekognition_stub, caplog
):
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    _tweet, post = known_mention(fake_x, url)
    ReconcileCursor.objects.create(account_x_id=payloads.BOT_ID, since_x_id=OLDER)
    caplog.set_level("INFO", logger="bot.services.reconciling")

    result = reconcile()

    assert (result.posts_read, result.recorded, result.complete) == (1, 1, True)
    tweet = Tweet.objects.get()
    assert (tweet.x_id, tweet.delivery, tweet.status) == (post["id"], None, Tweet.Status.DONE)
    assert not tweet.media_lookup  # the mentions answer carried its media: no lookup
    assert fake_x.calls("GET", "/2/tweets") == []
    assert Reply.objects.get().text == DOG_REPLY
    assert "1 posts read (X bills each post read), 1 recorded" in caplog.text
    (call,) = fake_x.calls("GET", f"/2/users/{payloads.BOT_ID}/mentions")
    assert call.query["since_id"] == OLDER and "attachments.media_keys" in call.query["expansions"]
    assert ReconcileCursor.objects.get().since_x_id == post["id"]
    assert_x_saw_only_valid_requests(fake_x)

    again = reconcile()  # nothing new since
    assert (again.posts_read, again.recorded) == (0, 0) and Reply.objects.count() == 1


def test_a_reconcile_run_is_bounded_and_the_next_reads_on_where_it_stopped(reconcile, fake_x, settings):
    posts = [fake_x.add_post(payloads.v2_post(photos=0), username="ana") for _ in range(12)]
    ReconcileCursor.objects.create(account_x_id=payloads.BOT_ID, since_x_id=OLDER)

    first = services.mentions_reconcile(max_posts=5)
    assert (first.posts_read, first.recorded, first.complete) == (5, 5, False)
    cursor = ReconcileCursor.objects.get()
    assert (cursor.since_x_id, cursor.until_x_id) == (OLDER, posts[7]["id"])  # newest first: the 5 newest are read
    newer = fake_x.add_post(payloads.v2_post(photos=0), username="ana")  # one more meanwhile

    second = services.mentions_reconcile(max_posts=5)
    third = services.mentions_reconcile(max_posts=100)
    fourth = services.mentions_reconcile(max_posts=100)

    assert (second.recorded, second.complete) == (5, False)
    assert (third.recorded, third.complete) == (2, True)  # the last of the backlog
    assert (fourth.recorded, fourth.complete) == (1, True)  # then the new one
    assert Tweet.objects.count() == 13 and set(Tweet.objects.values_list("x_id", flat=True)) == {p["id"] for p in [*posts, newer]}
    assert ReconcileCursor.objects.get().since_x_id == newer["id"]
    assert ReconcileCursor.objects.get().posts_read == 13
    assert_x_saw_only_valid_requests(fake_x)


def test_the_first_reconcile_answers_no_mention_from_before_the_bot_ran(fake_x):
    fake_x.add_post(payloads.v2_post(photos=0), username="ana")
    newest = fake_x.add_post(payloads.v2_post(photos=0), username="ana")

    result = services.mentions_reconcile()

    assert result.baseline and result.recorded == 0 and not Tweet.objects.exists()
    assert ReconcileCursor.objects.get().since_x_id == newest["id"]


def test_the_first_reconcile_reads_on_from_the_newest_mention_the_webhook_recorded(deliver_payload, fake_x, dispatched):
    seen = fake_x.add_post(payloads.v2_post(photos=0), username="ana")
    deliver_payload(payloads.activity_delivery(seen))
    missed = fake_x.add_post(payloads.v2_post(photos=0), username="ana")

    result = services.mentions_reconcile()

    assert not result.baseline and result.recorded == 1
    assert set(Tweet.objects.values_list("x_id", flat=True)) == {seen["id"], missed["id"]}


class TestReplay:
    def test_a_replay_is_asked_for_once_and_ended_by_xs_completion_event(self, deliver_payload, fake_x, monkeypatch):
        webhook = fake_x.webhooks.setdefault(
            "1800000000000000001", {"id": "1800000000000000001", "url": "https://bot.example/webhooks/x/", "valid": True}
        )
        job = services.replay_start(webhook_x_id=webhook["id"], from_at=timezone.now() - timedelta(hours=2))

        (asked,) = fake_x.replay_jobs
        assert asked["webhook_id"] == webhook["id"] and len(asked["from_date"]) == 12 and asked["from_date"] < asked["to_date"]
        assert job.job_x_id == asked["job_id"] and job.status == "running"
        with pytest.raises(services.ReplayRefused, match="already running"):
            services.replay_start(webhook_x_id=webhook["id"], from_at=timezone.now() - timedelta(hours=1))
        assert len(fake_x.replay_jobs) == 1
        assert_x_saw_only_valid_requests(fake_x, auth_kinds=("bearer",))

        deliver_payload(payloads.replay_done(job.job_x_id, webhook["id"]))

        job.refresh_from_db()
        assert job.status == "complete"
        assert Delivery.objects.get().event_kinds == ["replay_job_status"]
        services.replay_start(webhook_x_id=webhook["id"], from_at=timezone.now() - timedelta(hours=1))  # the next may start
        assert len(fake_x.replay_jobs) == 2

    def test_xs_completion_event_arriving_before_its_job_id_is_written_still_ends_the_job(self, deliver_payload):
        now = timezone.now()
        job = ReplayJob.objects.create(webhook_x_id="1800000000000000001", from_at=now - timedelta(hours=1), to_at=now)

        deliver_payload(payloads.replay_done("1900000000000000007", "1800000000000000001"))

        job.refresh_from_db()
        assert (job.status, job.job_x_id) == ("complete", "1900000000000000007")  # the next replay may start

    def test_a_replayed_post_already_answered_is_not_answered_again(self, deliver, fake_x, media_server, rekognition_stub):
        url, data = serve_jpeg(media_server)
        stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
        tweet, _post = known_mention(fake_x, url)
        deliver(tweet)
        deliver(tweet)  # X's replay re-sends what it delivered
        assert Reply.objects.count() == 1 and len(fake_x.posts()) == 1

    def test_a_replay_older_than_a_day_is_refused_before_x_is_asked(self, fake_x):
        with pytest.raises(services.ReplayRefused, match="last 24 hours"):
            services.replay_start(webhook_x_id="1800000000000000001", from_at=timezone.now() - timedelta(hours=25))
        assert fake_x.requests == []

    def test_x_refusing_the_replay_ends_the_job_so_the_next_can_start(self, fake_x):
        with pytest.raises(services.PermanentFailure, match="404"):
            services.replay_start(webhook_x_id="1800000000000000099", from_at=timezone.now() - timedelta(hours=1))
        assert ReplayJob.objects.get().status == "failed"


def test_a_replay_x_says_failed_ends_failed_with_xs_words(deliver_payload):
    job = ReplayJob.objects.create(
        webhook_x_id="1800000000000000001", job_x_id="1700000000000000555", from_at=timezone.now(), to_at=timezone.now()
    )

    deliver_payload(payloads.replay_done(job.job_x_id, state="Failed"))

    job.refresh_from_db()
    assert job.status == "failed" and job.last_error.startswith("X: Failed")
