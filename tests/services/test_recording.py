"""bot.services.recording: one Tweet per post, one dispatch per new summons, nothing twice.

Deliveries go in through the webhook (signed POSTs); the dispatch seam is replaced by a
recorder (`dispatched`) unless a test runs the job. Duplicate deliveries racing on
PostgreSQL: test_recording_concurrency.py.
"""

import copy
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from bot import dispatch, services
from bot.events import samples as payloads
from bot.events.samples import BOT_ID, BOT_NAME
from bot.inserting import Insert
from bot.models import Delivery, Photo, ReplayJob, Tweet
from tests.fixtures.webhook import encode

pytestmark = pytest.mark.django_db


# --- Posts and the dispatches they get --------------------------------------------------


def test_a_mention_is_recorded_with_its_photos_and_dispatched_once(deliver, dispatched):
    tweet_json = payloads.tweet(photos=2)
    deliver(tweet_json)

    tweet = Tweet.objects.get()
    assert tweet.x_id == tweet_json["id_str"] and tweet.status == Tweet.Status.RECEIVED
    assert tweet.delivery == Delivery.objects.get()
    assert list(tweet.photos.values_list("position", "status")) == [(0, "pending"), (1, "pending")]
    dispatched.assert_called_once_with(services.tweet_process, tweet.pk)


def test_a_redelivered_post_creates_nothing_and_dispatches_nothing(deliver_payload, dispatched):
    payload = payloads.delivery(payloads.tweet(photos=4))
    deliver_payload(payload)
    deliver_payload(payload)

    assert Delivery.objects.count() == 2  # every delivery is recorded...
    assert Tweet.objects.count() == 1 and Photo.objects.count() == 4  # ...the post once
    assert dispatched.call_count == 1
    assert [d.tweets.count() for d in Delivery.objects.order_by("pk")] == [1, 0]


def test_one_delivery_with_several_posts_dispatches_each_new_summons(deliver, dispatched):
    first, second, ignored = payloads.tweet(), payloads.tweet(photos=0), payloads.tweet(mention_bot=False)
    deliver(first, second, ignored)
    dispatched_pks = sorted(call.args[1] for call in dispatched.call_args_list)
    assert dispatched_pks == sorted(Tweet.objects.filter(status=Tweet.Status.RECEIVED).values_list("pk", flat=True))
    assert len(dispatched_pks) == 2


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: payloads.tweet(author_id=BOT_ID, author_name=BOT_NAME, mention_bot=False), "own tweet"),
        (lambda: dict(payloads.tweet(), retweeted_status=payloads.tweet()), "repost"),
        (lambda: payloads.tweet(mention_bot=False), "not addressed to the bot"),
    ],
)
def test_posts_that_do_not_summon_the_bot_are_kept_as_skipped(deliver, dispatched, make, reason):
    deliver(make())
    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.skip_reason) == (Tweet.Status.SKIPPED, reason)
    dispatched.assert_not_called()


def test_a_delivery_that_cannot_be_recorded_is_kept_as_failed_and_x_is_asked_to_retry(
    deliver_payload, post_signed, dispatched, django_capture_on_commit_callbacks
):
    payload = payloads.delivery(payloads.tweet())
    insert = Insert.run

    def photos_fail(self, cursor=None):  # the tweet's row is written, its photos' are not
        if self.model is Photo:
            raise RuntimeError("disk full")
        return insert(self, cursor)

    with (
        mock.patch.object(Insert, "run", photos_fail),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_signed(payload)

    assert response.status_code == 500  # our failure: X delivers it again
    assert Tweet.objects.count() == 0  # the posts rolled back together...
    dispatched.assert_not_called()  # ...so nothing was dispatched
    failed = Delivery.objects.get()  # but the delivery itself is kept, byte for byte
    assert failed.outcome == Delivery.Outcome.FAILED and failed.detail == "could not record it: RuntimeError: disk full"
    assert bytes(failed.body) == encode(payload)

    deliver_payload(payload)  # X's retry
    assert Tweet.objects.get().status == Tweet.Status.RECEIVED
    dispatched.assert_called_once_with(services.tweet_process, Tweet.objects.get().pk)


def test_a_dispatch_that_fails_after_commit_neither_errors_the_answer_nor_stops_the_others(deliver, monkeypatch, caplog):
    calls = []

    def throttled_once(job, tweet_pk):
        calls.append(tweet_pk)
        if len(calls) == 1:
            raise RuntimeError("Lambda invocation throttled")

    monkeypatch.setattr(dispatch, "dispatch", throttled_once)
    deliver(payloads.tweet(), payloads.tweet())

    assert sorted(calls) == sorted(Tweet.objects.values_list("pk", flat=True))  # both were tried
    assert "Lambda invocation throttled" in caplog.text
    assert set(Tweet.objects.values_list("status", flat=True)) == {Tweet.Status.RECEIVED}  # the sweeper's to finish


# --- Deletions --------------------------------------------------------------------------


def test_a_delete_event_marks_the_post_deleted_and_removes_its_stored_photos(deliver, dispatched):
    tweet_json = payloads.tweet()
    deliver(tweet_json)
    photo = Photo.objects.get()
    photo.file.save(f"photos/{tweet_json['id_str']}/0.jpg", ContentFile(b"\xff\xd8 jpeg bytes"), save=True)
    storage, name = photo.file.storage, photo.file.name
    assert storage.exists(name)

    dispatched.side_effect = lambda job, tweet_pk: job(tweet_pk)  # run the deletion job for real
    deliver(tweet_delete_events=[payloads.delete_event(tweet_json["id_str"])])

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.DELETED and tweet.deleted_at is not None
    assert not storage.exists(name)
    assert Photo.objects.get().file.name == ""


def test_a_post_whose_deletion_arrives_first_is_never_answered(deliver, dispatched):
    post = payloads.tweet()
    deliver(tweet_delete_events=[payloads.delete_event(post["id_str"])])
    deliver(post)  # the creation, late

    tweet = Tweet.objects.get()
    assert (tweet.x_id, tweet.status) == (post["id_str"], Tweet.Status.DELETED)
    assert tweet.skip_reason == "deleted before the tweet itself was delivered"
    assert Photo.objects.count() == 0
    dispatched.assert_not_called()


def test_a_repeated_delete_event_dispatches_the_clean_up_once(deliver, deliver_payload, dispatched):
    post = payloads.tweet()
    deliver(post)
    deletion = payloads.delivery(tweet_delete_events=[payloads.delete_event(post["id_str"])])
    deliver_payload(deletion)
    deliver_payload(deletion)

    tweet = Tweet.objects.get()
    assert [call.args for call in dispatched.call_args_list] == [
        (services.tweet_process, tweet.pk),
        (services.tweet_photos_delete, tweet.pk),
    ]


# --- Accounts: the bot answers only as the token's owner --------------------------------


def test_a_delivery_for_another_account_is_kept_but_not_answered_as_the_bot(deliver, dispatched, monkeypatch):
    # Several accounts can be subscribed to one webhook; the bot only posts as the token's owner.
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    other = "1500000000000000009"
    mention_of_other = payloads.tweet(text="@someone_else what is on this? https://t.co/abcDEF1234", mention_bot=False)
    mention_of_other["entities"]["user_mentions"] = [payloads.mention(other, "someone_else")]
    deliver(mention_of_other, for_user_id=other)
    deliver(payloads.tweet())

    skipped, answered = Tweet.objects.order_by("pk")
    assert (skipped.status, skipped.skip_reason) == (
        Tweet.Status.SKIPPED,
        f"delivered for account {other}, but the bot posts as {BOT_ID}",
    )
    assert skipped.for_user_x_id == other and skipped.mentions_bot  # it does summon that account
    assert answered.status == Tweet.Status.RECEIVED
    dispatched.assert_called_once_with(services.tweet_process, answered.pk)


def test_the_bots_copy_of_a_post_first_recorded_for_another_account_is_answered(deliver, dispatched, monkeypatch):
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    other = "1500000000000000009"
    post = payloads.tweet()  # mentions the bot; both accounts are subscribed and X sends a copy for each
    deliver(post, for_user_id=other)
    assert Tweet.objects.get().status == Tweet.Status.SKIPPED
    deliver(post)
    deliver(post)  # the bot's copy again

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.skip_reason, tweet.for_user_x_id) == (Tweet.Status.RECEIVED, "", BOT_ID)
    assert tweet.delivery == Delivery.objects.filter(for_user_x_id=BOT_ID).earliest("pk")  # the copy that took it over
    assert tweet.mentions_bot and Photo.objects.filter(tweet=tweet).count() == 1
    dispatched.assert_called_once_with(services.tweet_process, tweet.pk)


def test_a_stop_first_delivered_for_another_account_opts_its_author_out(deliver, dispatched, monkeypatch):
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    post = payloads.tweet(text=f"@{BOT_NAME} stop", photos=0)
    deliver(post, for_user_id="1500000000000000009")  # that account's copy first: not the bot's to act on
    assert not services.author_opted_out(payloads.AUTHOR_ID)

    deliver(post)  # the bot's own copy

    assert services.author_opted_out(payloads.AUTHOR_ID)
    assert Tweet.objects.get().status == Tweet.Status.SKIPPED
    dispatched.assert_not_called()


def test_an_old_stop_recorded_again_does_not_undo_an_operators_opt_in(deliver, django_capture_on_commit_callbacks):
    post = payloads.tweet(text=f"@{BOT_NAME} stop", photos=0)
    deliver(post)
    assert services.author_opted_out(payloads.AUTHOR_ID)
    services.optout_delete(payloads.AUTHOR_ID)  # an operator answers them again

    deliver(post)  # X's retry of the old delivery
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_replay(bytes(Delivery.objects.earliest("pk").body))  # and an operator's replay

    assert not services.author_opted_out(payloads.AUTHOR_ID)


def test_a_take_over_that_fails_is_retried_by_x_and_no_delivery_is_marked_failed(deliver, post_signed, dispatched, monkeypatch):
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    post = payloads.tweet()
    deliver(post, for_user_id="1500000000000000009")
    payload = payloads.delivery(post)
    with mock.patch("bot.services.recording._tweet_take_over", side_effect=RuntimeError("database is locked")):
        response = post_signed(payload)
    assert response.status_code == 500  # X delivers it again
    assert Tweet.objects.get().status == Tweet.Status.SKIPPED
    dispatched.assert_not_called()

    deliver(post)  # X's retry

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.for_user_x_id) == (Tweet.Status.RECEIVED, BOT_ID)
    dispatched.assert_called_once_with(services.tweet_process, tweet.pk)
    assert set(Delivery.objects.values_list("outcome", flat=True)) == {Delivery.Outcome.RECORDED}  # none marked failed


def test_a_delivery_without_for_user_id_is_read_as_the_bots_own(deliver_payload, dispatched, monkeypatch):
    monkeypatch.setenv("X_ACCESS_TOKEN", f"{BOT_ID}-token")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "secret")
    payload = payloads.delivery(payloads.tweet())
    del payload["for_user_id"]

    deliver_payload(payload)

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.for_user_x_id, tweet.mentions_bot) == (Tweet.Status.RECEIVED, BOT_ID, True)
    dispatched.assert_called_once_with(services.tweet_process, tweet.pk)


# --- Malformed deliveries: a clear answer, never a 500, nothing lost ---------------------
# Each node of a realistic payload is replaced in turn by junk of every JSON type; the
# webhook must answer 200 (or 400 for a body that is not an object) and keep the delivery.
# Run with DATABASE_URL pointing at PostgreSQL too: column limits are enforced there.

# Strings no database column takes as they are: half an emoji (a lone surrogate) and NUL.
UNSTORABLE = ["\ud83d and more", "a\u0000b"]
JUNK = [None, True, -1, 10**30, 1.5, "", "x" * 5000, "٣٤٥", [], [None, 7], {}, {"id_str": {"a": 1}}, *UNSTORABLE]


def paths(node, prefix=()):
    """Every path to a node of the payload, as tuples of keys and indexes."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def replaced(payload, path, junk):
    payload = copy.deepcopy(payload)
    node = payload
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = junk
    return payload


def test_junk_anywhere_in_a_signed_delivery_never_makes_a_500(post_signed, dispatched, django_capture_on_commit_callbacks):
    original = payloads.truncated(payloads.tweet(kinds=("photo", "animated_gif")), "@imagebot full text 🐶")
    original["quoted_status"] = payloads.tweet(mention_bot=False)
    body = payloads.delivery(original, tweet_delete_events=[payloads.delete_event("1600000000000000999")])
    cases = [(path, junk) for path in list(paths(body))[1:] for junk in JUNK]
    assert len(cases) > 1200

    statuses = set()
    for path, junk in cases:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(replaced(body, path, junk))
        assert response.status_code == 200, (path, junk, response.status_code)
        statuses.add(response.status_code)

    assert Delivery.objects.count() == len(cases)  # every one kept
    assert Tweet.objects.count() >= 1
    assert all(len(t.author_username) <= 50 for t in Tweet.objects.all())


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_deeply_nested_json_gets_a_400_and_is_kept(post_signed, body):
    response = post_signed(body)
    assert response.status_code == 400
    assert Delivery.objects.get().outcome == Delivery.Outcome.INVALID


@pytest.mark.parametrize("junk", UNSTORABLE)
def test_unstorable_characters_are_cleaned_and_the_post_still_answered(deliver_payload, dispatched, junk):
    post = payloads.tweet(text=f"@{payloads.BOT_NAME} {junk} 🐶")
    post["user"]["screen_name"] = f"ana{junk}"
    body = payloads.delivery(post)
    body[f"odd_{junk}_events"] = [{}]

    deliver_payload(body)  # answered 200

    tweet = Tweet.objects.get()
    assert "\u0000" not in tweet.text and "\ud83d " not in tweet.text and tweet.text.endswith(" 🐶")
    assert tweet.author_username in ("ana\ufffd and more", "anaab")
    assert [call.args[1] for call in dispatched.call_args_list] == [tweet.pk]  # still a mention of the bot
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECORDED


@pytest.mark.parametrize(
    "created_at",
    [
        "Fri Dec 31 23:59:59 -0100 9999",
        "Wed Nov 25 10:15:30 +2359 2026",
        "Wed Nov 25 10:15:30 -9999 2026",
        "Mon Jan 01 00:00:00 +0000 0001",
    ],
)
def test_impossible_post_times_are_dropped_not_fatal(deliver, dispatched, created_at):
    post = payloads.tweet()
    post["created_at"] = created_at

    deliver(post)  # answered 200

    tweet = Tweet.objects.get()
    assert tweet.posted_at is None or tweet.posted_at.utcoffset().total_seconds() == 0


# --- Outside a test's atomic block, as in production ---------------------------------------
# The `db` fixture wraps each test in atomic(), so recording takes Django's transaction there;
# here it takes its own (bot.inserting.transaction_of_inserts), and anything more than the
# inserts must still go through Django's: the ORM is refused in the other.


@pytest.mark.django_db(transaction=True)
def test_a_mention_recorded_in_its_own_transaction_is_committed_and_then_dispatched(post_signed, dispatched):
    committed = []
    dispatched.side_effect = lambda job, pk: committed.append(Tweet.objects.filter(pk=pk, photos__isnull=False).exists())
    post = payloads.tweet(photos=2)
    assert post_signed(payloads.delivery(post)).status_code == 200
    assert post_signed(payloads.delivery(post)).status_code == 200  # X's redelivery
    tweet = Tweet.objects.get()
    assert tweet.photos.count() == 2 and Delivery.objects.filter(outcome=Delivery.Outcome.RECORDED).count() == 2
    assert committed == [True]  # once, and its rows were there when it was dispatched


@pytest.mark.django_db(transaction=True)
def test_a_stop_a_deletion_and_a_finished_replay_are_recorded_in_djangos_transaction(post_signed, dispatched):
    stop = payloads.tweet(text=f"@{BOT_NAME} stop", photos=0)
    assert post_signed(payloads.delivery(stop)).status_code == 200
    assert services.author_opted_out(payloads.AUTHOR_ID)

    mention = payloads.tweet(author_id="1500000000000000077")
    assert post_signed(payloads.delivery(mention)).status_code == 200
    deletion = payloads.delete_event(mention["id_str"], "1500000000000000077")
    assert post_signed(payloads.delivery(tweet_delete_events=[deletion])).status_code == 200
    assert Tweet.objects.get(x_id=mention["id_str"]).status == Tweet.Status.DELETED

    now = timezone.now()
    job = ReplayJob.objects.create(
        webhook_x_id="1800000000000000001", job_x_id="1750000000000000009", from_at=now - timedelta(hours=1), to_at=now
    )
    assert post_signed(payloads.replay_done(job.job_x_id)).status_code == 200
    job.refresh_from_db()
    assert job.status == ReplayJob.Status.COMPLETE
    assert not Delivery.objects.exclude(outcome=Delivery.Outcome.RECORDED).exists()
