"""Recording deliveries: one Tweet per post, one dispatch per new summons, nothing twice."""

from unittest import mock

import pytest
from django.core.files.base import ContentFile

from bot import dispatch, services
from bot.models import Delivery, Photo, Tweet
from bot.events import samples as payloads
from tests.fixtures.webhook import encode
from bot.events.samples import BOT_ID, BOT_NAME

pytestmark = pytest.mark.django_db


def deliver(post_signed, capture, payload):
    with capture(execute=True):
        response = post_signed(payload)
    assert response.status_code == 200
    return response


def test_a_mention_is_recorded_with_its_photos_and_dispatched_once(post_signed, dispatched, django_capture_on_commit_callbacks):
    tweet_json = payloads.tweet(photos=2)
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(tweet_json))

    tweet = Tweet.objects.get()
    assert tweet.x_id == tweet_json["id_str"] and tweet.status == Tweet.Status.RECEIVED
    assert tweet.delivery == Delivery.objects.get()
    assert list(tweet.photos.values_list("position", "status")) == [(0, "pending"), (1, "pending")]
    dispatched.assert_called_once_with(services.tweet_process, tweet.pk)


def test_a_redelivered_post_creates_nothing_and_dispatches_nothing(post_signed, dispatched, django_capture_on_commit_callbacks):
    payload = payloads.delivery(payloads.tweet(photos=4))
    deliver(post_signed, django_capture_on_commit_callbacks, payload)
    deliver(post_signed, django_capture_on_commit_callbacks, payload)

    assert Delivery.objects.count() == 2  # every delivery is recorded...
    assert Tweet.objects.count() == 1 and Photo.objects.count() == 4  # ...the post once
    assert dispatched.call_count == 1
    assert [d.tweets.count() for d in Delivery.objects.order_by("pk")] == [1, 0]


def test_a_delivery_that_cannot_be_recorded_is_kept_as_failed_and_x_is_asked_to_retry(
    post_signed, dispatched, django_capture_on_commit_callbacks
):
    payload = payloads.delivery(payloads.tweet())
    with mock.patch("bot.services.recording.Photo.objects.bulk_create", side_effect=RuntimeError("disk full")):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(payload)

    assert response.status_code == 500  # our failure: X delivers it again
    assert Tweet.objects.count() == 0  # the posts rolled back together...
    dispatched.assert_not_called()  # ...so nothing was dispatched
    failed = Delivery.objects.get()  # but the delivery itself is kept, byte for byte
    assert failed.outcome == Delivery.Outcome.FAILED and failed.detail == "could not record it: RuntimeError: disk full"
    assert bytes(failed.body) == encode(payload)

    deliver(post_signed, django_capture_on_commit_callbacks, payload)  # X's retry
    assert Tweet.objects.get().status == Tweet.Status.RECEIVED
    dispatched.assert_called_once_with(services.tweet_process, Tweet.objects.get().pk)


def test_a_dispatch_that_fails_after_commit_neither_errors_the_answer_nor_stops_the_others(
    post_signed, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    calls = []

    def throttled_once(job, tweet_pk):
        calls.append(tweet_pk)
        if len(calls) == 1:
            raise RuntimeError("Lambda invocation throttled")

    monkeypatch.setattr(dispatch, "dispatch", throttled_once)
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(payloads.tweet(), payloads.tweet()))

    assert sorted(calls) == sorted(Tweet.objects.values_list("pk", flat=True))  # both were tried
    assert "Lambda invocation throttled" in caplog.text
    assert set(Tweet.objects.values_list("status", flat=True)) == {Tweet.Status.RECEIVED}  # the sweeper's to finish


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: payloads.tweet(author_id=BOT_ID, author_name=BOT_NAME, mention_bot=False), "own tweet"),
        (lambda: dict(payloads.tweet(), retweeted_status=payloads.tweet()), "repost"),
        (lambda: payloads.tweet(mention_bot=False), "not addressed to the bot"),
    ],
)
def test_posts_that_do_not_summon_the_bot_are_kept_as_skipped(post_signed, dispatched, django_capture_on_commit_callbacks, make, reason):
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(make()))
    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.skip_reason) == (Tweet.Status.SKIPPED, reason)
    dispatched.assert_not_called()


def test_a_delivery_for_another_account_is_kept_but_not_answered_as_the_bot(
    post_signed, dispatched, django_capture_on_commit_callbacks, monkeypatch
):
    # Several accounts can be subscribed to one webhook; the bot only posts as the token's owner.
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    other = "1500000000000000009"
    mention_of_other = payloads.tweet(text="@someone_else what is on this? https://t.co/abcDEF1234", mention_bot=False)
    mention_of_other["entities"]["user_mentions"] = [payloads.mention(other, "someone_else")]
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(mention_of_other, for_user_id=other))
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(payloads.tweet()))

    skipped, answered = Tweet.objects.order_by("pk")
    assert (skipped.status, skipped.skip_reason) == (
        Tweet.Status.SKIPPED,
        f"delivered for account {other}, but the bot posts as {BOT_ID}",
    )
    assert skipped.for_user_x_id == other and skipped.mentions_bot  # it does summon that account
    assert answered.status == Tweet.Status.RECEIVED
    dispatched.assert_called_once_with(services.tweet_process, answered.pk)


def test_one_delivery_with_several_posts_dispatches_each_new_summons(post_signed, dispatched, django_capture_on_commit_callbacks):
    first, second, ignored = payloads.tweet(), payloads.tweet(photos=0), payloads.tweet(mention_bot=False)
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(first, second, ignored))
    dispatched_pks = sorted(call.args[1] for call in dispatched.call_args_list)
    assert dispatched_pks == sorted(Tweet.objects.filter(status=Tweet.Status.RECEIVED).values_list("pk", flat=True))
    assert len(dispatched_pks) == 2


def test_a_delete_event_marks_the_post_deleted_and_removes_its_stored_photos(post_signed, dispatched, django_capture_on_commit_callbacks):
    tweet_json = payloads.tweet()
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(tweet_json))
    photo = Photo.objects.get()
    photo.file.save(f"photos/{tweet_json['id_str']}/0.jpg", ContentFile(b"\xff\xd8 jpeg bytes"), save=True)
    storage, name = photo.file.storage, photo.file.name
    assert storage.exists(name)

    dispatched.side_effect = lambda job, tweet_pk: job(tweet_pk)  # run the deletion job for real
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(tweet_delete_events=[payloads.delete_event(tweet_json["id_str"])]))

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.DELETED and tweet.deleted_at is not None
    assert not storage.exists(name)
    assert Photo.objects.get().file.name == ""


def test_a_post_whose_deletion_arrives_first_is_never_answered(post_signed, dispatched, django_capture_on_commit_callbacks):
    post = payloads.tweet()
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(tweet_delete_events=[payloads.delete_event(post["id_str"])]))
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(post))  # the creation, late

    tweet = Tweet.objects.get()
    assert (tweet.x_id, tweet.status) == (post["id_str"], Tweet.Status.DELETED)
    assert tweet.skip_reason == "deleted before the tweet itself was delivered"
    assert Photo.objects.count() == 0
    dispatched.assert_not_called()


def test_a_repeated_delete_event_dispatches_the_clean_up_once(post_signed, dispatched, django_capture_on_commit_callbacks):
    post = payloads.tweet()
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(post))
    deletion = payloads.delivery(tweet_delete_events=[payloads.delete_event(post["id_str"])])
    deliver(post_signed, django_capture_on_commit_callbacks, deletion)
    deliver(post_signed, django_capture_on_commit_callbacks, deletion)

    tweet = Tweet.objects.get()
    assert [call.args for call in dispatched.call_args_list] == [(services.tweet_process, tweet.pk), (services.tweet_photos_delete, tweet.pk)]


def test_the_bots_copy_of_a_post_first_recorded_for_another_account_is_answered(
    post_signed, dispatched, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    other = "1500000000000000009"
    post = payloads.tweet()  # mentions the bot; both accounts are subscribed and X sends a copy for each
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(post, for_user_id=other))
    assert Tweet.objects.get().status == Tweet.Status.SKIPPED
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(post))
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(post))  # the bot's copy again

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.skip_reason, tweet.for_user_x_id) == (Tweet.Status.RECEIVED, "", BOT_ID)
    assert tweet.mentions_bot and Photo.objects.filter(tweet=tweet).count() == 1
    dispatched.assert_called_once_with(services.tweet_process, tweet.pk)


def test_a_delivery_without_for_user_id_is_read_as_the_bots_own(post_signed, dispatched, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    payload = payloads.delivery(payloads.tweet())
    del payload["for_user_id"]

    deliver(post_signed, django_capture_on_commit_callbacks, payload)

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.for_user_x_id, tweet.mentions_bot) == (Tweet.Status.RECEIVED, BOT_ID, True)
    dispatched.assert_called_once_with(services.tweet_process, tweet.pk)
