"""bot.services.replying: the reply composed once every photo is settled, and posted once.

A wording X refuses as a duplicate is replaced only when no earlier attempt can be on X;
rate limits are waited for within the request, or later by the sweeper. End to end
through the webhook, as in test_processing.py.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from twitter_text import parse_tweet

from bot import services
from bot.events import samples as payloads
from bot.models import Label, Photo, RateBudget, Reply, Tweet
from tests.fixtures.aws import labels_response, moderation_response, stub_detection
from tests.fixtures.fake_x import BOT_USER_ID, assert_x_saw_only_valid_requests, rate_limited
from tests.fixtures.media_server import serve_jpeg
from tests.fixtures.pipeline import (
    CAR,
    CAR_REPLY,
    DOG,
    DOG_REPLY,
    FLAGGED_REPLY,
    NO_PHOTO_REPLY,
    age,
    reply_body,
    stored_files,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]  # nothing waits for X


# --- What the reply says ----------------------------------------------------------------


def test_a_photo_without_an_animal_gets_the_other_text(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server, "car.jpg")
    stub_detection(rekognition_stub, labels=CAR)
    post = payloads.tweet(urls=[url])

    deliver(post)

    assert fake_x.posts() == [reply_body(CAR_REPLY, post)]
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert Label.objects.get(name="Car").categories == ["Vehicles and Automotive"]
    rekognition_stub.assert_no_pending_responses()


def test_a_flagged_photo_gets_a_neutral_reply_that_names_none_of_its_labels(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    stub_detection(
        rekognition_stub,
        labels=DOG,
        moderation=moderation_response(("Explicit Nudity", 92.0), ("Nudity", 91.0, "Explicit Nudity")),
    )
    post = payloads.tweet(urls=[url])

    deliver(post)

    assert fake_x.posts() == [reply_body(FLAGGED_REPLY, post)]
    for name in ("Dog", "Pet", "Animal", "Mammal", "Nudity", "Explicit"):
        assert name not in FLAGGED_REPLY
    photo = Photo.objects.get()
    assert photo.flagged and photo.status == Photo.Status.RECOGNISED
    assert sorted(Label.objects.filter(is_moderation=True).values_list("name", "parents")) == [
        ("Explicit Nudity", []),
        ("Nudity", ["Explicit Nudity"]),
    ]
    assert Tweet.objects.get().status == Tweet.Status.DONE
    rekognition_stub.assert_no_pending_responses()


def test_a_long_list_of_wide_labels_still_fits_in_one_post(deliver, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "60")
    names = [f"Dog breed number {i} 柴犬 ｄｏｇ" for i in range(60)]  # CJK and full-width count double
    stub_detection(
        rekognition_stub,
        labels=labels_response(*((name, 99.0 - i * 0.5, ("Dog", "Animal")) for i, name in enumerate(names))),
        max_labels=60,
    )
    url, _ = serve_jpeg(media_server)
    post = payloads.tweet(urls=[url])

    deliver(post)

    (body,) = fake_x.posts()
    assert_x_saw_only_valid_requests(fake_x)
    text = body["text"]
    assert parse_tweet(text).weightedLength <= 280
    assert text.startswith(f"Hi @ana. On your image, I can recognise: {names[0]}, {names[1]}")
    assert text.endswith(".") and names[-1] not in text  # the least confident were left out, whole
    assert Reply.objects.get().text == text and Label.objects.count() == 60
    assert Tweet.objects.get().status == Tweet.Status.DONE


def test_repeated_mentions_without_a_photo_each_get_their_own_wording(deliver, fake_x):
    # X refuses a text the account posted recently; each fixed text has other wordings.
    posts = [payloads.tweet(photos=0) for _ in range(5)]
    for minute, post in enumerate(posts[:4]):
        post["created_at"] = f"Wed Nov 25 10:{minute:02d}:30 +0000 2026"
    posts[4]["created_at"] = posts[3]["created_at"]  # the same second: the post's id still tells them apart

    for post in posts:
        deliver(post)

    answered = [body["reply"]["in_reply_to_tweet_id"] for body in fake_x.posts()]
    assert answered == [post["id_str"] for post in posts]
    texts = [body["text"] for body in fake_x.posts()]
    assert texts[0] == NO_PHOTO_REPLY and len(set(texts)) == 5
    assert texts[3].endswith(f" This reply is about your post {posts[3]['id_str']}.")  # the last wording names the post
    assert list(Reply.objects.values_list("status", flat=True)) == [Reply.Status.POSTED] * 5
    assert [reply.variant for reply in Reply.objects.order_by("tweet__received_at", "tweet__pk")] == [0, 1, 2, 2, 2]


def test_same_label_tweets_of_one_author_in_the_same_second_all_get_answered(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    posts = [payloads.tweet(urls=[url], created_at="Wed Nov 25 10:15:30 +0000 2026") for _ in range(4)]
    for post in posts:
        stub_detection(rekognition_stub, labels=DOG)
        deliver(post)

    sent = fake_x.posts()
    assert [body["reply"]["in_reply_to_tweet_id"] for body in sent] == [post["id_str"] for post in posts]
    assert len({body["text"] for body in sent}) == 4
    replies = list(Reply.objects.order_by("tweet__received_at", "tweet__pk"))
    assert [(reply.status, reply.variant) for reply in replies] == [(Reply.Status.POSTED, variant) for variant in (0, 1, 2, 2)]
    for post, body in zip(posts[2:], sent[2:], strict=True):
        assert body["text"].endswith(f" This reply is about your post {post['id_str']}.")
        assert parse_tweet(body["text"]).weightedLength <= 280
    assert_x_saw_only_valid_requests(fake_x)
    rekognition_stub.assert_no_pending_responses()


def test_without_x_credentials_the_reply_is_recorded_as_a_dry_run_and_nothing_is_posted(
    deliver, fake_x, media_server, rekognition_stub, monkeypatch
):
    # fake_x stays up (and keeps the consumer keys the webhook needs) to prove nothing reaches X.
    for name in ("X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_DRY_RUN"):
        monkeypatch.delenv(name)
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)

    deliver(payloads.tweet(urls=[url]))

    reply = Reply.objects.get()
    assert (reply.status, reply.text, reply.x_id, reply.attempts) == (Reply.Status.DRY_RUN, DOG_REPLY, "", 1)
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert fake_x.requests == []
    assert stored_files() == []
    rekognition_stub.assert_no_pending_responses()


# --- X failing --------------------------------------------------------------------------


def test_a_rate_limited_reply_waits_for_the_reset_and_is_posted_once(deliver, fake_x, media_server, rekognition_stub, x_waits):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    reset = int(time.time()) + 2
    fake_x.queue("POST", "/2/tweets", 429, headers=rate_limited(2, **{"x-rate-limit-reset": str(reset)}))
    post = payloads.tweet(urls=[url])

    before = time.time()
    deliver(post)
    after = time.time()

    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [429, 201]
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert_x_saw_only_valid_requests(fake_x)
    (wait,) = x_waits
    assert reset + 1 - after <= wait <= reset + 1 - before  # until the reset, plus a second
    reply = Reply.objects.get()
    assert (reply.status, reply.attempts, reply.x_id != "") == (Reply.Status.POSTED, 1, True)
    assert Tweet.objects.get().status == Tweet.Status.DONE


def test_a_lost_answer_from_x_ends_with_one_post_and_the_reply_posted(deliver, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 201, delay=1.0)  # X posts it, but its answer comes too late
    post = payloads.tweet(urls=[url])

    deliver(post)  # asserts a 200: nothing went wrong for X's delivery

    # The fake counts a post whose answer was lost: X has it.
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert reply.status == Reply.Status.POSTED, (reply.status, reply.last_error)
    assert reply.x_id == fake_x.timelines[BOT_USER_ID][0]["id"]  # found on the bot's own timeline
    assert tweet.status == Tweet.Status.DONE, (tweet.status, tweet.last_error)


def test_a_permanent_refusal_from_x_fails_the_reply_and_the_tweet_without_retrying(
    deliver, sweep, fake_x, media_server, rekognition_stub, x_waits
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    reason = "You attempted to reply to a Tweet that is deleted or not visible to you."
    fake_x.queue("POST", "/2/tweets", 403, body={"title": "Forbidden", "detail": reason, "type": "about:blank", "status": 403})

    deliver(payloads.tweet(urls=[url]))

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert (reply.status, reply.attempts, reply.last_error) == (Reply.Status.FAILED, 1, f"403 Forbidden: {reason}")
    assert reply.x_id == ""
    assert (tweet.status, tweet.last_error) == (Tweet.Status.FAILED, f"reply: 403 Forbidden: {reason}")
    assert len(fake_x.calls("POST", "/2/tweets")) == 1 and fake_x.posts() == [] and x_waits == []
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}  # failed is final
    assert len(fake_x.calls("POST", "/2/tweets")) == 1


# --- X answering nonsense: a plain state, never a crash -----------------------------------


def uncaught(caplog) -> list[str]:
    """Errors logged on the way (an exception escaping a job is logged as one)."""
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "body",
    [{"data": "x"}, {"data": [1, 2]}, {"data": {"id": "1" * 25, "text": DOG_REPLY}}, {"data": {"id": "0", "text": DOG_REPLY}}, b"posted!"],
    ids=["data-a-string", "data-a-list", "id-of-25-digits", "id-zero", "not-json"],
)
@pytest.mark.parametrize("x_posted_it", [True, False], ids=["x-posted-it", "x-did-not"])
def test_a_success_without_a_usable_id_leaves_the_reply_pending_and_the_sweeper_settles_it_with_one_reply(
    deliver, sweep, fake_x, media_server, rekognition_stub, caplog, body, x_posted_it
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 201, body=body, perform=x_posted_it)
    post = payloads.tweet(urls=[url])

    deliver(post)

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert (reply.status, reply.x_id) == (Reply.Status.PENDING, "") and reply.maybe_posted_at is not None
    assert reply.last_error.startswith("POST /2/tweets: X's ") and len(reply.last_error) < 200
    assert (tweet.status, tweet.last_error) == (Tweet.Status.PROCESSING, f"reply: {reply.last_error}")
    assert uncaught(caplog) == []

    age(tweet)
    sweep()

    reply.refresh_from_db()
    (on_x,) = fake_x.timelines[BOT_USER_ID]  # one reply in the thread, whoever posted it
    assert on_x["referenced_posts"] == [{"type": "replied_to", "id": post["id_str"]}]
    assert (reply.status, reply.x_id, reply.last_error) == (Reply.Status.POSTED, on_x["id"], "")
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert uncaught(caplog) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1e20"},
        {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "nan"},
        {"x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": "inf"},
        {"retry-after": "inf"},
        {"retry-after": "1e300"},
        {"retry-after": "nan"},
    ],
    ids=["reset-1e20", "reset-nan", "daily-reset-inf", "retry-after-inf", "retry-after-1e300", "retry-after-nan"],
)
def test_a_rate_limit_naming_an_impossible_time_is_retried_after_the_usual_backoff(
    deliver, fake_x, media_server, rekognition_stub, x_waits, caplog, headers
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 429, headers=headers)
    post = payloads.tweet(urls=[url])

    deliver(post)

    assert x_waits == [1.0]
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert (reply.status, reply.x_id) == (Reply.Status.POSTED, fake_x.timelines[BOT_USER_ID][0]["id"])
    assert (tweet.status, tweet.not_before) == (Tweet.Status.DONE, None)
    assert uncaught(caplog) == []


def test_a_rate_limit_that_keeps_naming_an_impossible_time_is_an_ordinary_temporary_failure(
    deliver, fake_x, media_server, rekognition_stub, x_waits, caplog
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(4):  # the first try and IMAGEBOT_X_MAX_RETRIES (3) more
        fake_x.queue("POST", "/2/tweets", 429, headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1e20"})

    deliver(payloads.tweet(urls=[url]))

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert (reply.status, reply.last_error) == (Reply.Status.PENDING, "429 Too Many Requests: Too Many Requests")
    assert (tweet.status, tweet.attempts, tweet.not_before) == (Tweet.Status.PROCESSING, 1, None)  # no free wait of 1e20 s
    assert x_waits == [1.0, 2.0, 4.0] and fake_x.posts() == []
    assert uncaught(caplog) == []


def test_a_refusal_of_an_odd_shape_fails_the_reply_with_a_plain_reason(deliver, fake_x, media_server, rekognition_stub, caplog):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 403, body={"errors": 5, "detail": ["not", "text"]})

    deliver(payloads.tweet(urls=[url]))

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert (reply.status, reply.last_error) == (Reply.Status.FAILED, "403 Forbidden: ['not', 'text']")
    assert (tweet.status, tweet.last_error) == (Tweet.Status.FAILED, "reply: 403 Forbidden: ['not', 'text']")
    assert uncaught(caplog) == []


def test_a_timeline_that_cannot_be_read_is_looked_at_again_before_anything_is_posted(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch, caplog
):
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 201, delay=1.0)  # X posts it; its answer is lost
    post = payloads.tweet(urls=[url])
    deliver(post)
    tweet = Tweet.objects.get()
    fake_x.queue("GET", f"/2/users/{BOT_USER_ID}/tweets", 200, body={"data": [{"text": "a post without an id"}]})
    age(tweet)

    sweep()

    reply = Reply.objects.get()
    assert reply.status == Reply.Status.PENDING and "looking for it failed" in reply.last_error
    assert "X's answer is malformed" in Tweet.objects.get().last_error
    assert len(fake_x.calls("POST", "/2/tweets")) == 1

    age(tweet)
    sweep()

    reply.refresh_from_db()
    assert (reply.status, reply.x_id) == (Reply.Status.POSTED, fake_x.timelines[BOT_USER_ID][0]["id"])
    assert len(fake_x.calls("POST", "/2/tweets")) == 1 and Tweet.objects.get().status == Tweet.Status.DONE
    assert uncaught(caplog) == []


# --- Duplicate content: no second reply, no lost post -----------------------------------


def test_two_posts_with_the_same_content_from_one_author_both_get_a_reply(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    first, second = payloads.tweet(urls=[url]), payloads.tweet(urls=[url])
    stub_detection(rekognition_stub, labels=DOG)
    stub_detection(rekognition_stub, labels=DOG)

    deliver(first)
    deliver(second)

    assert len(fake_x.posts()) == 2
    assert list(Reply.objects.values_list("status", flat=True)) == [Reply.Status.POSTED] * 2


def test_a_duplicate_refusal_is_not_taken_for_a_post_that_never_reached_x(deliver, sweep, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    first, second = payloads.tweet(urls=[url]), payloads.tweet(urls=[url])
    stub_detection(rekognition_stub, labels=DOG)
    stub_detection(rekognition_stub, labels=DOG)
    deliver(first)
    for _ in range(4):  # the second reply's first attempt never gets through
        fake_x.queue("POST", "/2/tweets", 500)
    deliver(second)
    age(Tweet.objects.get(x_id=second["id_str"]))

    sweep()  # its second attempt: X refuses the text, already posted in reply to the first tweet

    # Not taken for posted: the bot's timeline has no reply to the second post, so it says it in other words.
    assert [body["reply"]["in_reply_to_tweet_id"] for body in fake_x.posts()] == [first["id_str"], second["id_str"]]
    reply = Reply.objects.get(tweet__x_id=second["id_str"])
    assert reply.status == Reply.Status.POSTED and reply.x_id == fake_x.timelines[BOT_USER_ID][0]["id"]
    assert reply.text != fake_x.posts()[0]["text"] and "%)" in reply.text


def test_a_lost_answer_and_a_lagging_timeline_never_give_a_second_reply(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 201, delay=1.0)  # X posts it; its answer is lost
    fake_x.timeline_lag = 1  # and the bot's timeline does not show that post yet
    post = payloads.tweet(urls=[url])

    deliver(post)  # the retry is refused as a duplicate; the timeline has no reply to the post

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]  # not said again in other words
    assert (reply.status, reply.text) == (Reply.Status.PENDING, DOG_REPLY) and reply.maybe_posted_at is not None
    assert tweet.status == Tweet.Status.PROCESSING
    assert "looking again later" in tweet.last_error

    fake_x.timeline_lag = 0  # the timeline catches up
    age(tweet)
    assert sweep()["redispatched"] == 1

    reply.refresh_from_db(), tweet.refresh_from_db()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert reply.status == Reply.Status.POSTED and reply.x_id == fake_x.timelines[BOT_USER_ID][0]["id"]
    assert tweet.status == Tweet.Status.DONE
    assert_x_saw_only_valid_requests(fake_x)


def test_the_same_text_answering_an_older_post_is_no_reason_to_reword_at_once(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    # The author had the same answer long ago (still among the bot's 100 latest posts, but
    # outside X's duplicate window). Now the answer to the new reply is lost, its retry is
    # refused as a duplicate of itself, and the timeline does not show it yet.
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    url, _ = serve_jpeg(media_server)
    old, new = payloads.tweet(urls=[url]), payloads.tweet(urls=[url])
    stub_detection(rekognition_stub, labels=DOG)
    stub_detection(rekognition_stub, labels=DOG)
    deliver(old)
    fake_x.forget_texts()  # X's duplicate window has passed since
    fake_x.queue("POST", "/2/tweets", 201, delay=1.0)
    fake_x.timeline_lag = 1

    deliver(new)

    assert [body["reply"]["in_reply_to_tweet_id"] for body in fake_x.posts()] == [old["id_str"], new["id_str"]]
    reply = Reply.objects.get(tweet__x_id=new["id_str"])
    assert reply.status == Reply.Status.PENDING and reply.text == DOG_REPLY  # not reworded on a fresh look

    fake_x.timeline_lag = 0
    age(Tweet.objects.get(x_id=new["id_str"]))
    sweep()

    reply.refresh_from_db()
    assert reply.status == Reply.Status.POSTED and reply.x_id == fake_x.timelines[BOT_USER_ID][0]["id"]
    assert len(fake_x.posts()) == 2  # one reply each


# --- Rate limits that outlast the request -----------------------------------------------


def test_a_spent_daily_cap_waits_for_its_reset_without_using_up_attempts(deliver, sweep, fake_x, media_server, rekognition_stub, x_waits):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    reset_in = 20_000
    fake_x.queue(
        "POST",
        "/2/tweets",
        429,
        headers={
            "x-user-limit-24hour-limit": "17",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(int(time.time()) + reset_in),
        },
    )
    post = payloads.tweet(urls=[url])

    deliver(post)

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.PROCESSING and tweet.attempts == 0  # a rate-limited round is free
    assert reset_in - 60 < (tweet.not_before - timezone.now()).total_seconds() <= reset_in + 1
    assert x_waits == []
    for _ in range(8):  # more sweeps than IMAGEBOT_MAX_ATTEMPTS, all before the reset
        age(tweet)
        assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}

    Tweet.objects.filter(pk=tweet.pk).update(not_before=timezone.now() - timedelta(seconds=1))  # the reset passed
    age(tweet)
    assert sweep()["redispatched"] == 1

    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert Tweet.objects.get().status == Tweet.Status.DONE


def window_over() -> None:
    """The rate-limit window X last spoke of has ended (bot.services.pacing)."""
    RateBudget.objects.update(resets_at=timezone.now() - timedelta(seconds=1))


def test_short_rate_limits_that_never_end_use_up_attempts_and_the_post_fails(
    deliver, sweep, fake_x, media_server, rekognition_stub, x_waits, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(3):  # each within IMAGEBOT_X_MAX_RATE_LIMIT_WAIT: waited for, not free
        fake_x.queue(
            "POST",
            "/2/tweets",
            429,
            headers=rate_limited(5),
        )

    deliver(payloads.tweet(urls=[url]))
    tweet = Tweet.objects.get()
    assert tweet.attempts == 1 and tweet.not_before is None
    age(tweet)
    window_over()  # the replies' budget waits out each 5 s window; here the window passes, and X says 429 again
    sweep()
    age(tweet)
    window_over()
    assert sweep()["failed"] == 1

    tweet.refresh_from_db()
    assert tweet.status == Tweet.Status.FAILED and "gave up after 2 attempts" in tweet.last_error
    assert fake_x.posts() == []


def test_a_daily_cap_is_waited_out_only_while_the_post_is_young(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue(
        "POST",
        "/2/tweets",
        429,
        headers={
            "x-user-limit-24hour-limit": "17",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(int(time.time()) + 30 * 3600),  # beyond any real window
        },
    )
    post = payloads.tweet(urls=[url])
    deliver(post)
    tweet = Tweet.objects.get()
    assert tweet.attempts == 0
    assert (tweet.not_before - timezone.now()) <= services.settling.MAX_RATE_LIMIT_WAIT  # clamped

    Tweet.objects.filter(pk=tweet.pk).update(
        status=Tweet.Status.RECEIVED, received_at=timezone.now() - services.settling.RATE_LIMIT_PATIENCE - timedelta(minutes=1)
    )
    Reply.objects.update(status=Reply.Status.PENDING)
    fake_x.queue(
        "POST",
        "/2/tweets",
        429,
        headers={
            "x-user-limit-24hour-limit": "17",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(int(time.time()) + 20_000),
        },
    )
    services.tweet_process(tweet.pk)

    assert Tweet.objects.get().attempts == 1  # an old post's rounds count like any other
