"""bot.services.sweeping: nothing is silently dropped.

Tweets left half-way are finished, with one reply; out of attempts they fail with their
reason; clean-ups that failed are finished. End to end through the webhook, as in
test_processing.py; `age` (tests/fixtures/pipeline.py) makes time pass for the sweeper.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from bot import conf, recognition, services, x_api
from bot.events import samples as payloads
from bot.models import Photo, Reply, Tweet
from tests.fixtures.aws import stub_detection
from tests.fixtures.fake_x import BOT_USER_ID, assert_x_saw_only_valid_requests
from tests.fixtures.media_server import serve_jpeg
from tests.fixtures.pipeline import DOG, DOG_REPLY, X_ERROR_500, age, reply_body, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]  # nothing waits for X


@pytest.fixture
def sweep_meanwhile(sweep):
    """The sweeper run while a worker is mid-step (called from inside the step, as another
    process would run it), and what it dispatches, at once and exactly once."""

    def sweep_() -> services.SweepCounts:
        run_on_commit = transaction.get_connection().run_on_commit
        before = len(run_on_commit)
        counts = sweep()
        del run_on_commit[before:]  # the worker's own capture would run them a second time
        return counts

    return sweep_


# --- X failing beyond the request's retries ---------------------------------------------


def test_x_failing_beyond_retries_leaves_the_reply_for_the_sweeper_which_posts_it_once(
    deliver, sweep, fake_x, media_server, rekognition_stub, x_waits
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(4):  # the first try and IMAGEBOT_X_MAX_RETRIES (3) more
        fake_x.queue("POST", "/2/tweets", 500)
    post = payloads.tweet(urls=[url])

    deliver(post)

    tweet, reply = Tweet.objects.get(), Reply.objects.get()
    assert (tweet.status, tweet.last_error) == (Tweet.Status.PROCESSING, f"reply: {X_ERROR_500}")
    assert (reply.status, reply.attempts, reply.last_error) == (Reply.Status.PENDING, 1, X_ERROR_500)
    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [500] * 4 and fake_x.posts() == []
    assert x_waits == [1.0, 2.0, 4.0]
    assert len(stored_files()) == 1  # kept until the reply settles
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}  # too recent for the sweeper

    age(tweet)
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    tweet.refresh_from_db(), reply.refresh_from_db()
    assert (tweet.status, tweet.last_error, tweet.attempts) == (Tweet.Status.DONE, "", 2)
    assert (reply.status, reply.attempts, reply.text) == (Reply.Status.POSTED, 2, DOG_REPLY)
    assert reply.x_id.isdigit()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert_x_saw_only_valid_requests(fake_x)
    assert stored_files() == []
    rekognition_stub.assert_no_pending_responses()  # the photo was not recognised again
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}


def test_a_lost_answer_without_retries_is_settled_by_the_sweeper_without_a_second_post(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    """The same lost answer when the retry is the sweeper's: it looks on the bot's timeline before posting, and finds it."""
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 201, delay=1.0)
    post = payloads.tweet(urls=[url])

    deliver(post)

    tweet, reply = Tweet.objects.get(), Reply.objects.get()
    assert tweet.status == Tweet.Status.PROCESSING
    assert tweet.last_error == "reply: POST /2/tweets: no answer within 0.2 s (read timeout)"
    assert reply.status == Reply.Status.PENDING

    age(tweet)
    sweep()

    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [201]  # not even tried again
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    reply.refresh_from_db(), tweet.refresh_from_db()
    assert (reply.status, reply.attempts) == (Reply.Status.POSTED, 2)
    assert reply.x_id == fake_x.timelines[BOT_USER_ID][0]["id"] and reply.last_error == ""  # found on the bot's own timeline
    assert tweet.status == Tweet.Status.DONE and stored_files() == []


# --- Workers that die -------------------------------------------------------------------


def test_a_worker_dying_during_recognition_is_finished_by_the_sweeper_with_one_post(
    deliver, sweep, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch, caplog
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_detect = recognition.detect

    def dies_once(image, **kwargs):
        monkeypatch.setattr(recognition, "detect", real_detect)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(recognition, "detect", dies_once)
    post = payloads.tweet(urls=[url])

    deliver(post)  # still answered 200: the crash is logged and the rows keep the work

    assert "worker killed" in caplog.text

    tweet, photo = Tweet.objects.get(), Photo.objects.get()
    assert (tweet.status, tweet.last_error) == (Tweet.Status.PROCESSING, "RuntimeError: worker killed")
    assert photo.status == Photo.Status.RECOGNISING and rekognition_calls == [] and fake_x.requests == []

    age(tweet)
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    tweet.refresh_from_db()
    assert (tweet.status, tweet.last_error, tweet.attempts) == (Tweet.Status.DONE, "", 2)
    assert Photo.objects.get().status == Photo.Status.RECOGNISED
    assert len(rekognition_calls.named("DetectLabels")) == 1
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert len(media_server.requests) == 1  # the stored photo was used, not fetched again
    rekognition_stub.assert_no_pending_responses()


@pytest.mark.parametrize("x_got_it", [False, True], ids=["before-x-was-called", "after-x-posted-it"])
def test_a_reply_left_posting_by_a_dead_worker_is_posted_exactly_once(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch, x_got_it, caplog
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_post_reply = x_api.post_reply

    def dies(text, *, in_reply_to_tweet_id, **options):
        monkeypatch.setattr(x_api, "post_reply", real_post_reply)
        if x_got_it:
            real_post_reply(text, in_reply_to_tweet_id=in_reply_to_tweet_id, **options)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(x_api, "post_reply", dies)
    post = payloads.tweet(urls=[url])

    deliver(post)  # still answered 200: the crash is logged and the rows keep the work

    assert "worker killed" in caplog.text

    assert Reply.objects.get().status == Reply.Status.POSTING
    assert len(fake_x.posts()) == (1 if x_got_it else 0)

    age(Tweet.objects.get())
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert (reply.status, reply.attempts) == (Reply.Status.POSTED, 2)
    assert tweet.status == Tweet.Status.DONE and stored_files() == []
    assert reply.x_id.isdigit() and reply.last_error == ""  # X's own id, also when found on the timeline


def test_the_sweeper_leaves_a_step_claimed_recently_to_its_worker(
    deliver, sweep, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch
):
    # A recognition claimed just now (say, by a late S3 event's worker) on a post whose
    # own row has not changed for a while: the sweeper must not hand it to a second worker.
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_detect = recognition.detect

    def still_running(image, **kwargs):  # leaves the photo claimed, as a worker mid-call does
        raise RuntimeError("still running")

    monkeypatch.setattr(recognition, "detect", still_running)
    post = payloads.tweet(urls=[url])
    deliver(post)
    photo, tweet = Photo.objects.get(), Tweet.objects.get()
    assert photo.status == Photo.Status.RECOGNISING
    Tweet.objects.filter(pk=tweet.pk).update(updated_at=timezone.now() - timedelta(hours=1))  # only the post looks old
    monkeypatch.setattr(recognition, "detect", real_detect)

    sweep()

    photo.refresh_from_db()
    assert photo.status == Photo.Status.RECOGNISING and rekognition_calls == []  # left to its worker
    assert fake_x.posts() == []

    age(Tweet.objects.get())  # now the claim is old too: its worker is gone
    sweep()

    assert len(rekognition_calls.named("DetectLabels")) == 1
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]


# --- Live workers keep their claims -------------------------------------------------------


@pytest.mark.parametrize("sweep_after, elapsed", [(10, 14), (300, 320)], ids=["a-short-sweep-delay", "the-default-sweep-delay"])
def test_a_recognition_outlasting_the_sweep_delay_is_left_to_its_worker(
    deliver, sweep_meanwhile, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch, sweep_after, elapsed
):
    # With the default settings one recognition may take 2 calls x 5 tries x 35 s plus backoff.
    monkeypatch.setenv("IMAGEBOT_SWEEP_AFTER_SECONDS", str(sweep_after))
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_detect = recognition.detect
    swept = []

    def slow(image, **kwargs):  # Rekognition takes `elapsed` seconds to answer; the sweeper runs meanwhile
        monkeypatch.setattr(recognition, "detect", real_detect)
        age(Tweet.objects.get(), seconds=elapsed)
        swept.append(sweep_meanwhile())
        return real_detect(image, **kwargs)

    monkeypatch.setattr(recognition, "detect", slow)
    post = payloads.tweet(urls=[url])

    deliver(post)

    assert swept == [{"redispatched": 0, "failed": 0, "photos_deleted": 0}]  # the claim is its worker's
    assert len(rekognition_calls.named("DetectLabels")) == 1 and len(rekognition_calls.named("DetectModerationLabels")) == 1
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.attempts) == (Tweet.Status.DONE, 1)
    rekognition_stub.assert_no_pending_responses()


@pytest.mark.parametrize("sweep_after, elapsed", [(10, 14), (300, 320)], ids=["a-short-sweep-delay", "the-default-sweep-delay"])
def test_a_post_outlasting_the_sweep_delay_is_posted_once_and_recorded_with_its_id(
    deliver, sweep_meanwhile, fake_x, media_server, rekognition_stub, monkeypatch, sweep_after, elapsed
):
    monkeypatch.setenv("IMAGEBOT_SWEEP_AFTER_SECONDS", str(sweep_after))
    fake_x.reject_duplicates = False  # nothing on X's side would stop a second reply
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_post_reply = x_api.post_reply
    swept = []

    def slow(text, *, in_reply_to_tweet_id, **options):  # X posts it at once, but its answer takes `elapsed` seconds
        monkeypatch.setattr(x_api, "post_reply", real_post_reply)
        reply_x_id = real_post_reply(text, in_reply_to_tweet_id=in_reply_to_tweet_id, **options)
        age(Tweet.objects.get(), seconds=elapsed)
        swept.append(sweep_meanwhile())
        return reply_x_id

    monkeypatch.setattr(x_api, "post_reply", slow)
    post = payloads.tweet(urls=[url])

    deliver(post)

    assert swept == [{"redispatched": 0, "failed": 0, "photos_deleted": 0}]
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert (reply.status, reply.x_id, reply.attempts) == (Reply.Status.POSTED, fake_x.timelines[BOT_USER_ID][0]["id"], 1)
    assert (tweet.status, tweet.attempts) == (Tweet.Status.DONE, 1)


def test_a_reply_a_dead_worker_posted_is_found_on_the_timeline_even_without_xs_duplicate_check(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    fake_x.reject_duplicates = False  # X's duplicate check is off, or its window has passed
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_post_reply = x_api.post_reply

    def posts_then_dies(text, *, in_reply_to_tweet_id, **options):
        monkeypatch.setattr(x_api, "post_reply", real_post_reply)
        real_post_reply(text, in_reply_to_tweet_id=in_reply_to_tweet_id, **options)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(x_api, "post_reply", posts_then_dies)
    post = payloads.tweet(urls=[url])
    deliver(post)
    assert Reply.objects.get().status == Reply.Status.POSTING

    age(Tweet.objects.get())
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    reply = Reply.objects.get()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]  # looked for before posting, and found
    assert (reply.status, reply.x_id, reply.last_error) == (Reply.Status.POSTED, fake_x.timelines[BOT_USER_ID][0]["id"], "")
    assert Tweet.objects.get().status == Tweet.Status.DONE


def test_a_reopened_reply_the_timeline_does_not_show_yet_waits_rather_than_posts_again(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    fake_x.reject_duplicates = False
    fake_x.timeline_lag = 1  # the bot's timeline does not show its newest post yet
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_post_reply = x_api.post_reply

    def posts_then_dies(text, *, in_reply_to_tweet_id, **options):
        monkeypatch.setattr(x_api, "post_reply", real_post_reply)
        real_post_reply(text, in_reply_to_tweet_id=in_reply_to_tweet_id, **options)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(x_api, "post_reply", posts_then_dies)
    post = payloads.tweet(urls=[url])
    deliver(post)
    tweet = Tweet.objects.get()
    # Just past the claim's lifetime: the worker may have posted as late as a minute ago.
    age(tweet, seconds=int(conf.reply_claim_seconds()) + 1)

    assert sweep()["redispatched"] == 1

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]  # not posted again on a guess
    assert (reply.status, reply.last_error) == (
        Reply.Status.PENDING,
        "an earlier attempt may have posted it; not on the bot's timeline yet",
    )
    assert tweet.status == Tweet.Status.PROCESSING and "looking again later" in tweet.last_error

    fake_x.timeline_lag = 0  # the timeline catches up
    age(tweet)
    sweep()

    reply.refresh_from_db()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert (reply.status, reply.x_id) == (Reply.Status.POSTED, fake_x.timelines[BOT_USER_ID][0]["id"])
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert_x_saw_only_valid_requests(fake_x)


# --- Giving up --------------------------------------------------------------------------


def test_the_sweeper_gives_up_after_the_maximum_attempts_with_the_last_error(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(3):
        fake_x.queue("POST", "/2/tweets", 500)

    deliver(payloads.tweet(urls=[url]))
    tweet = Tweet.objects.get()
    age(tweet)
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}
    tweet.refresh_from_db()
    assert (tweet.status, tweet.attempts) == (Tweet.Status.PROCESSING, 2)
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 1, "photos_deleted": 0}

    tweet.refresh_from_db()
    assert tweet.status == Tweet.Status.FAILED
    assert tweet.last_error == f"gave up after 2 attempts: reply: {X_ERROR_500}"
    assert len(fake_x.calls("POST", "/2/tweets")) == 2 and fake_x.posts() == []
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}
    assert len(fake_x.calls("POST", "/2/tweets")) == 2


def test_a_tweet_the_sweeper_gave_up_on_keeps_no_stored_photos(deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 500)

    deliver(payloads.tweet(urls=[url]))
    age(Tweet.objects.get())
    assert sweep() == {"redispatched": 0, "failed": 1, "photos_deleted": 0}

    assert Tweet.objects.get().status == Tweet.Status.FAILED
    assert stored_files() == [] and Photo.objects.get().file.name == ""


def test_a_photo_that_keeps_failing_is_given_up_on_the_last_attempt_and_the_others_answered(
    deliver, sweep, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "2")
    good, _ = serve_jpeg(media_server)
    bad = media_server.route("/busy.jpg", b"try later", status=503, content_type="text/plain")
    stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=[good, bad])

    deliver(post)

    photos = list(Photo.objects.order_by("position"))
    assert [photo.status for photo in photos] == [Photo.Status.RECOGNISED, Photo.Status.PENDING]  # the good one went on
    assert fake_x.posts() == []

    age(Tweet.objects.get())
    sweep()  # the last attempt

    photos = list(Photo.objects.order_by("position"))
    assert photos[1].status == Photo.Status.FAILED and photos[1].last_error == f"gave up: HTTP 503 for {bad}"
    (sent,) = fake_x.posts()
    assert sent["reply"]["in_reply_to_tweet_id"] == post["id_str"] and "Dog" in sent["text"]
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert len(rekognition_calls.named("DetectLabels")) == 1  # the good photo, once


# --- Stored photos left behind ----------------------------------------------------------


def test_the_sweeper_removes_photos_a_failed_clean_up_left_behind(deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_delete = services.settling.tweet_photos_delete
    monkeypatch.setattr(services.settling, "tweet_photos_delete", lambda tweet_pk: 0)  # storage refusing deletes
    post = payloads.tweet(urls=[url])
    deliver(post)
    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.DONE and len(stored_files()) == 1
    monkeypatch.setattr(services.settling, "tweet_photos_delete", real_delete)  # storage working again

    assert sweep()["photos_deleted"] == 0  # not before the sweep delay
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 1}
    assert stored_files() == [] and Photo.objects.get().file.name == ""
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]  # nothing else was done again


def test_photos_kept_on_purpose_stay_when_keeping_is_turned_off_later(deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "true")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    deliver(payloads.tweet(urls=[url]))
    assert Tweet.objects.get().status == Tweet.Status.DONE and len(stored_files()) == 1

    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "false")
    age(Tweet.objects.get())

    assert sweep()["photos_deleted"] == 0
    assert len(stored_files()) == 1  # only clean-ups that failed are finished by the sweeper


# --- Claims are judged by their claim time ------------------------------------------------


def stalled_recognition(claimed_seconds_ago: float, updated_seconds_ago: float) -> Photo:
    """A tweet left processing, its photo claimed for recognition: times set directly, as time passing would."""
    now = timezone.now()
    tweet = Tweet.objects.create(
        x_id="1600000000000000901", author_x_id="2", author_username="ana", status=Tweet.Status.PROCESSING, attempts=1
    )
    photo = Photo.objects.create(tweet=tweet, position=0, source_url="https://pbs.twimg.com/media/a.jpg", status=Photo.Status.RECOGNISING)
    Photo.objects.filter(pk=photo.pk).update(
        claimed_at=now - timedelta(seconds=claimed_seconds_ago), updated_at=now - timedelta(seconds=updated_seconds_ago)
    )
    Tweet.objects.filter(pk=tweet.pk).update(updated_at=now - timedelta(hours=2))
    return photo


@pytest.mark.django_db
def test_the_sweeper_leaves_a_fresh_claim_alone_however_old_the_photos_last_update(dispatched):
    photo = stalled_recognition(claimed_seconds_ago=1, updated_seconds_ago=7200)

    assert services.sweep()["redispatched"] == 0

    photo.refresh_from_db()
    assert photo.status == Photo.Status.RECOGNISING
    dispatched.assert_not_called()


@pytest.mark.django_db
def test_the_sweeper_reopens_an_old_claim_however_recent_the_photos_last_update(dispatched, django_capture_on_commit_callbacks):
    photo = stalled_recognition(claimed_seconds_ago=conf.photo_claim_seconds() + 60, updated_seconds_ago=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep()["redispatched"] == 1

    photo.refresh_from_db()
    assert photo.status == Photo.Status.STORED
    dispatched.assert_called_once_with(services.tweet_process, photo.tweet_id)


@pytest.mark.django_db
def test_a_reply_moved_by_any_step_gets_a_new_updated_at(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    deliver(payloads.tweet(urls=[url]))

    reply = Reply.objects.get()
    assert reply.status == Reply.Status.POSTED
    assert reply.updated_at >= reply.posted_at >= reply.claimed_at >= reply.created_at  # .update() no longer skips auto_now
