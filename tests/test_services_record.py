"""Recording deliveries: one Tweet per post, one dispatch per new summons, nothing twice."""

from unittest import mock

import pytest
from django.core.files.base import ContentFile

from bot import dispatch
from bot.models import Delivery, Photo, Tweet
from tests import payloads
from tests.payloads import BOT_ID, BOT_NAME

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched(monkeypatch):
    """The dispatch seam, replaced: records (job, tweet pk) instead of running anything."""
    seam = mock.create_autospec(dispatch.dispatch)
    monkeypatch.setattr(dispatch, "dispatch", seam)
    return seam


def deliver(post_signed, capture, payload):
    with capture(execute=True):
        response = post_signed(payload)
    assert response.status_code == 200
    return response


def test_a_mention_is_recorded_with_its_photos_and_dispatched_once(post_signed, dispatched, django_capture_on_commit_callbacks):
    tweet_json = payloads.tweet(photos=2)
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(tweet_json))

    tweet = Tweet.objects.get()
    assert tweet.tweet_id == tweet_json["id_str"] and tweet.status == Tweet.Status.RECEIVED
    assert tweet.delivery == Delivery.objects.get()
    assert list(tweet.photos.values_list("position", "status")) == [(0, "pending"), (1, "pending")]
    dispatched.assert_called_once_with("tweet_process", tweet.pk)


def test_a_redelivered_post_creates_nothing_and_dispatches_nothing(post_signed, dispatched, django_capture_on_commit_callbacks):
    payload = payloads.delivery(payloads.tweet(photos=4))
    deliver(post_signed, django_capture_on_commit_callbacks, payload)
    deliver(post_signed, django_capture_on_commit_callbacks, payload)

    assert Delivery.objects.count() == 2  # every delivery is recorded...
    assert Tweet.objects.count() == 1 and Photo.objects.count() == 4  # ...the post once
    assert dispatched.call_count == 1
    assert [d.tweets.count() for d in Delivery.objects.order_by("pk")] == [1, 0]


def test_nothing_is_dispatched_when_the_transaction_rolls_back(post_signed, dispatched, django_capture_on_commit_callbacks):
    with mock.patch("bot.services.Photo.objects.bulk_create", side_effect=RuntimeError("disk full")):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            post_signed(payloads.delivery(payloads.tweet()))
    assert Tweet.objects.count() == 0 and Delivery.objects.count() == 0
    dispatched.assert_not_called()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: payloads.tweet(author_id=BOT_ID, author_name=BOT_NAME, mention_bot=False), "own post"),
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
    assert skipped.for_user_id == other and skipped.mentions_bot  # it does summon that account
    assert answered.status == Tweet.Status.RECEIVED
    dispatched.assert_called_once_with("tweet_process", answered.pk)


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

    dispatched.side_effect = dispatch.run_job  # run the deletion job for real
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(tweet_delete_events=[payloads.delete_event(tweet_json["id_str"])]))

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.DELETED and tweet.deleted_at is not None
    assert not storage.exists(name)
    assert Photo.objects.get().file.name == ""


def test_a_delete_event_for_an_unknown_post_changes_nothing(post_signed, dispatched, django_capture_on_commit_callbacks):
    deliver(post_signed, django_capture_on_commit_callbacks, payloads.delivery(tweet_delete_events=[payloads.delete_event("1600000000000000999")]))
    assert Tweet.objects.count() == 0
    dispatched.assert_not_called()
