"""bot.services.console: what an operator does, through the real pipeline, fake X and Rekognition's Stubber."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from bot.models import Photo, Reply, Tweet
from bot.services import console
from tests.fixtures.aws import stub_detection
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests
from tests.fixtures.media_server import make_image_bytes, serve_jpeg
from tests.fixtures.pipeline import DOG, DOG_REPLY, age, stored_files
from tests.fixtures.racing import POSTGRES_ONLY, race
from tests.fixtures.records import PhotoSpec, record_tweet

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]


def _failed_tweet(media_server, *, reply_status=Reply.Status.FAILED, photo_status=Photo.Status.FAILED) -> Tweet:
    url, _ = serve_jpeg(media_server)
    tweet = record_tweet(
        status=Tweet.Status.FAILED, photos=[PhotoSpec(status=photo_status)], reply="Hi @ana. Old words.", reply_status=reply_status
    )
    Photo.objects.filter(tweet=tweet).update(source_url=url, last_error="gave up: connection failed")
    Tweet.objects.filter(pk=tweet.pk).update(attempts=5, last_error="reply: 503 Service Unavailable")
    return tweet


# --- Re-run ----------------------------------------------------------------------------------


def test_a_failed_tweet_runs_again_from_its_photos_and_is_answered_once(
    fake_x, media_server, rekognition_stub, django_capture_on_commit_callbacks
):
    tweet = _failed_tweet(media_server)
    stub_detection(rekognition_stub, labels=DOG)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = console.tweets_reprocess([tweet.pk])

    assert outcome.done == [f"{tweet}: running again"] and outcome.refused == []
    tweet.refresh_from_db()
    assert tweet.status == Tweet.Status.DONE and tweet.attempts == 1 and tweet.last_error == ""
    assert tweet.reply.status == Reply.Status.POSTED and tweet.reply.text == DOG_REPLY  # composed afresh: it never reached X
    assert [post["text"] for post in fake_x.posts()] == [DOG_REPLY]
    assert_x_saw_only_valid_requests(fake_x)


def test_a_stuck_tweet_is_dispatched_again(fake_x, media_server, rekognition_stub, django_capture_on_commit_callbacks):
    url, _ = serve_jpeg(media_server)
    tweet = record_tweet(status=Tweet.Status.RECEIVED, photos=[PhotoSpec(status=Photo.Status.PENDING)])
    Photo.objects.filter(tweet=tweet).update(source_url=url)
    stub_detection(rekognition_stub, labels=DOG)
    busy = console.tweets_reprocess([tweet.pk])
    age(tweet)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = console.tweets_reprocess([tweet.pk])

    assert "being worked on" in busy.refused[0] and busy.done == []
    assert outcome.done == [f"{tweet}: was stuck, dispatched again"]
    assert Tweet.objects.get(pk=tweet.pk).status == Tweet.Status.DONE


def test_re_run_refuses_what_ended_well():
    tweet = record_tweet(status=Tweet.Status.DONE)

    outcome = console.tweets_reprocess([tweet.pk])

    assert outcome.refused == [f"{tweet}: done, nothing to re-run"] and outcome.done == []


# --- Retry a reply, post a dry run for real ------------------------------------------------------


def test_a_failed_reply_is_retried_with_its_words_and_posted_once(fake_x, django_capture_on_commit_callbacks):
    tweet = record_tweet(status=Tweet.Status.FAILED, photos=[PhotoSpec(labels=[("Dog", 99.0)])], reply=DOG_REPLY, reply_status="failed")

    with django_capture_on_commit_callbacks(execute=True):
        outcome = console.replies_retry([tweet.reply.pk])
    again = console.replies_retry([tweet.reply.pk])

    assert outcome.done and Tweet.objects.get(pk=tweet.pk).status == Tweet.Status.DONE
    assert Reply.objects.get().status == Reply.Status.POSTED and [p["text"] for p in fake_x.posts()] == [DOG_REPLY]
    assert "only a failed reply" in again.refused[0]


def test_a_dry_run_reply_is_posted_for_real_once(fake_x, monkeypatch):
    tweet = record_tweet(reply=DOG_REPLY, reply_status=Reply.Status.DRY_RUN)
    monkeypatch.setenv("X_DRY_RUN", "1")
    refused = console.replies_post_for_real([tweet.reply.pk])
    monkeypatch.setenv("X_DRY_RUN", "0")

    posted = console.replies_post_for_real([tweet.reply.pk])
    again = console.replies_post_for_real([tweet.reply.pk])

    assert "X_DRY_RUN is on" in refused.refused[0]
    reply = Reply.objects.get()
    assert reply.status == Reply.Status.POSTED and posted.done == [f"reply to {tweet.x_id} posted as {reply.x_id}"]
    assert "already posted" in again.refused[0]
    assert fake_x.posts() == [{"text": DOG_REPLY, "reply": {"in_reply_to_tweet_id": tweet.x_id}}]
    assert_x_saw_only_valid_requests(fake_x)


def test_post_for_real_needs_the_credentials(monkeypatch):
    tweet = record_tweet(reply=DOG_REPLY, reply_status=Reply.Status.DRY_RUN)
    monkeypatch.setenv("X_DRY_RUN", "0")

    outcome = console.replies_post_for_real([tweet.reply.pk])

    assert "set X_CONSUMER_KEY" in outcome.refused[0] and Reply.objects.get().status == Reply.Status.DRY_RUN


def test_a_trial_is_never_posted_for_real(fake_x):
    tweet = record_tweet(reply=DOG_REPLY, reply_status=Reply.Status.DRY_RUN)
    Tweet.objects.filter(pk=tweet.pk).update(is_trial=True)

    outcome = console.replies_post_for_real([tweet.reply.pk])

    assert "trial" in outcome.refused[0] and fake_x.posts() == []


@pytest.mark.parametrize("db_kind", [pytest.param("pg", marks=POSTGRES_ONLY)])
def test_two_operators_posting_the_same_dry_run_reply_post_it_once(fake_x, db_kind):
    tweet = record_tweet(reply=DOG_REPLY, reply_status=Reply.Status.DRY_RUN)
    pk = tweet.reply.pk

    outcomes = race(lambda: console.replies_post_for_real([pk]), lambda: console.replies_post_for_real([pk]))

    assert sorted(len(outcome.done) for outcome in outcomes) == [0, 1]
    assert len(fake_x.posts()) == 1 and Reply.objects.get().status == Reply.Status.POSTED


# --- Stored photos -------------------------------------------------------------------------------


def test_stored_photos_are_deleted_only_from_settled_tweets():
    done = record_tweet(photos=[PhotoSpec(labels=[("Dog", 99.0)])])
    busy = record_tweet(status=Tweet.Status.PROCESSING, photos=[PhotoSpec(status=Photo.Status.STORED)])
    for tweet in (done, busy):
        photo = tweet.photos.get()
        photo.file.name = default_storage.save(f"photos/{tweet.x_id}/0.jpg", ContentFile(b"jpeg"))
        photo.save(update_fields=["file"])

    outcome = console.tweets_photos_delete([done.pk, busy.pk])
    none_left = console.tweets_photos_delete([done.pk])

    assert outcome.done == [f"{done}: 1 stored photo deleted"] and "still being processed" in outcome.refused[0]
    assert stored_files() == [f"photos/{busy.x_id}/0.jpg"]
    assert Photo.objects.get(tweet=done).status == Photo.Status.RECOGNISED  # the row and labels stay
    assert none_left.refused == [f"{done}: no stored photos"]


# --- Try a photo --------------------------------------------------------------------------------


def test_a_trial_goes_through_the_pipeline_and_is_answered_in_dry_run(fake_x, rekognition_stub, monkeypatch):
    monkeypatch.setenv("X_DRY_RUN", "0")  # even where the bot posts for real
    stub_detection(rekognition_stub, labels=DOG)

    tweet = console.trial_record([("dog.jpg", make_image_bytes())], username="ana")

    assert tweet.is_trial and tweet.status == Tweet.Status.DONE and tweet.x_id.startswith("0")
    assert tweet.reply.status == Reply.Status.DRY_RUN and tweet.reply.text == DOG_REPLY
    assert list(tweet.photos.get().labels.values_list("name", flat=True)) == ["Dog", "Pet", "Animal", "Mammal"]
    assert fake_x.requests == []


@pytest.mark.parametrize(
    "uploads, reason",
    [([], "choose 1 to 4"), ([("a.jpg", b"x")] * 5, "choose 1 to 4"), ([("notes.txt", b"not an image")], "notes.txt: ")],
)
def test_a_trial_refuses_what_cannot_be_tried(uploads, reason):
    with pytest.raises(console.TrialRefused, match=reason):
        console.trial_record(uploads)
    assert not Tweet.objects.exists()
