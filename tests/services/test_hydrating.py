"""bot.services.hydrating end to end: an X Activity mention's photos looked up on the fake X, recognised, answered.

Each case goes in through the webhook as X Activity delivers it (no media in `includes`):
the photos are looked up with GET /2/tweets on the fake X (OAuth 1.0a checked, every
request validated against the OpenAPI document), fetched from the local media server,
recognised through botocore's Stubber, and the reply posted to the fake X.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bot import services
from bot.events import samples as payloads
from bot.models import Photo, RateBudget, Reply, Tweet
from tests.fixtures.aws import stub_detection
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests, rate_limited
from tests.fixtures.media_server import serve_jpeg
from tests.fixtures.pipeline import DOG, DOG_REPLY, NO_PHOTO_REPLY, age

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]

OTHER_ID = "1500000000000000009"
OTHER_NAME = "bo"


def photo_post(fake_x, url: str, *, author_id: str = payloads.AUTHOR_ID, username: str = "ana", kind: str = "photo", **fields) -> dict:
    """A post with one photo that X knows (GET /2/tweets shows it, its media expanded)."""
    post = payloads.v2_post(photos=1, author_id=author_id, author_name=username, **fields)
    key = post["attachments"]["media_keys"][0]
    return fake_x.add_post(post, media=[payloads.v2_media(key, kind, url=url)], username=username)


def lookups(fake_x) -> list[dict[str, str]]:
    return [request.query for request in fake_x.calls("GET", "/2/tweets")]


def test_an_activity_mention_is_hydrated_recognised_and_answered(deliver_payload, fake_x, media_server, rekognition_stub):
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    post = photo_post(fake_x, url)

    deliver_payload(payloads.activity_delivery(post))

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.media_lookup, tweet.photos_from_x_id, tweet.last_error) == (Tweet.Status.DONE, False, "", "")
    (lookup,) = lookups(fake_x)
    assert lookup["ids"] == post["id"] and "attachments.media_keys" in lookup["expansions"]
    assert set(lookup["media.fields"].split(",")) >= {"type", "url", "preview_image_url", "alt_text", "width", "height"}
    assert Photo.objects.get().status == Photo.Status.RECOGNISED
    assert Reply.objects.get().text == DOG_REPLY
    assert fake_x.posts() == [{"text": DOG_REPLY, "reply": {"in_reply_to_tweet_id": post["id"]}}]
    assert_x_saw_only_valid_requests(fake_x)


def test_a_video_is_recognised_from_its_preview_image(deliver_payload, fake_x, media_server, rekognition_stub):
    url, data = serve_jpeg(media_server, "still.jpg")
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    post = photo_post(fake_x, url, kind="video")

    deliver_payload(payloads.activity_delivery(post))

    photo = Photo.objects.get()
    assert (photo.media_type, photo.is_thumbnail, photo.source_url, photo.status) == ("video", True, url, Photo.Status.RECOGNISED)
    assert Tweet.objects.get().status == Tweet.Status.DONE


def test_a_mention_under_someone_elses_photo_is_answered_with_the_parents_labels(deliver_payload, fake_x, media_server, rekognition_stub):
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    parent = photo_post(fake_x, url, author_id=OTHER_ID, username=OTHER_NAME, mention_bot=False)
    mention = payloads.v2_post(text=f"@{payloads.BOT_NAME} what is this?", photos=0, replied_to=(parent["id"], OTHER_ID))
    fake_x.add_post(mention, username="ana")

    deliver_payload(payloads.activity_delivery(mention))

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.photos_from_x_id, tweet.photos_from_username) == (Tweet.Status.DONE, parent["id"], OTHER_NAME)
    (lookup,) = lookups(fake_x)
    assert lookup["ids"].split(",") == [mention["id"], parent["id"]]  # one call for both
    text = Reply.objects.get().text
    assert text == "Hi @ana. On the image in the post you replied to (posted by bo), I can recognise: Dog, Pet, Animal, Mammal."
    assert "@bo" not in text  # whose photo, in words that cannot become a mention
    # Only the summoning post is answered, never the other author's.
    assert [body["reply"]["in_reply_to_tweet_id"] for body in fake_x.posts()] == [mention["id"]]
    assert_x_saw_only_valid_requests(fake_x)


def test_a_quote_takes_the_quoted_photos_before_the_replied_to_ones(deliver_payload, fake_x, media_server, rekognition_stub):
    quoted_url, quoted_data = serve_jpeg(media_server, "quoted.jpg", color="blue")
    parent_url, _ = serve_jpeg(media_server, "parent.jpg")
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": quoted_data})
    quoted = photo_post(fake_x, quoted_url, author_id=OTHER_ID, username=OTHER_NAME, mention_bot=False)
    parent = photo_post(fake_x, parent_url, author_id="1500000000000000010", username="cy", mention_bot=False)
    mention = payloads.v2_post(photos=0, quoted=quoted["id"], replied_to=(parent["id"], "1500000000000000010"))

    deliver_payload(payloads.activity_delivery(mention))

    tweet = Tweet.objects.get()
    assert (tweet.photos_from_x_id, tweet.status) == (quoted["id"], Tweet.Status.DONE)
    assert Photo.objects.get().source_url == quoted_url
    assert "in the post you quoted (posted by bo)" in Reply.objects.get().text
    assert media_server.paths == ["/quoted.jpg"]


def test_a_post_with_its_own_photo_is_answered_about_its_own(deliver_payload, fake_x, media_server, rekognition_stub):
    own_url, own_data = serve_jpeg(media_server, "own.jpg")
    parent_url, _ = serve_jpeg(media_server, "parent.jpg", color="blue")
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": own_data})
    parent = photo_post(fake_x, parent_url, author_id=OTHER_ID, username=OTHER_NAME, mention_bot=False)
    mention = photo_post(fake_x, own_url, replied_to=(parent["id"], OTHER_ID))

    deliver_payload(payloads.activity_delivery(mention))

    assert Tweet.objects.get().photos_from_x_id == ""
    assert Reply.objects.get().text == DOG_REPLY


def test_a_post_whose_delivery_carried_one_of_its_photos_gets_the_other_looked_up(deliver_payload, fake_x, media_server, rekognition_stub):
    first_url, data = serve_jpeg(media_server, "first.jpg")
    second_url, _ = serve_jpeg(media_server, "second.jpg")  # the same bytes: either can be recognised first
    for _ in range(2):
        stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    post = payloads.v2_post(photos=2)
    first, second = post["attachments"]["media_keys"]
    media = [payloads.v2_media(first, url=first_url), payloads.v2_media(second, url=second_url)]
    fake_x.add_post(post, media=media, username="ana")

    deliver_payload(payloads.activity_delivery(post, media=media[1:]))  # X Activity said where the second is, not the first

    assert len(lookups(fake_x)) == 1
    photos = list(Photo.objects.order_by("position").values_list("position", "media_key", "source_url", "status"))
    assert photos == [(0, first, first_url, Photo.Status.RECOGNISED), (1, second, second_url, Photo.Status.RECOGNISED)]
    assert sorted(media_server.paths) == ["/first.jpg", "/second.jpg"]
    assert Tweet.objects.get().status == Tweet.Status.DONE


def test_a_post_that_carried_one_of_its_photos_is_answered_about_it_when_x_refuses_the_lookup(
    deliver_payload, fake_x, media_server, rekognition_stub
):
    second_url, data = serve_jpeg(media_server, "second.jpg")
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    post = payloads.v2_post(photos=2)
    fake_x.queue("GET", "/2/tweets", 403)  # an X plan without read access, say

    deliver_payload(payloads.activity_delivery(post, media=[payloads.v2_media(post["attachments"]["media_keys"][1], url=second_url)]))

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.media_lookup) == (Tweet.Status.DONE, False)
    assert list(Photo.objects.values_list("position", "status")) == [(1, Photo.Status.RECOGNISED)]
    assert Reply.objects.get().text == DOG_REPLY


def test_a_lookup_held_for_x_rate_limit_on_the_last_attempt_waits_instead_of_giving_up(deliver_payload, fake_x, media_server, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "1")
    second_url, _ = serve_jpeg(media_server, "second.jpg")
    post = payloads.v2_post(photos=2)
    fake_x.queue("GET", "/2/tweets", 429, headers=rate_limited(3600))

    deliver_payload(payloads.activity_delivery(post, media=[payloads.v2_media(post["attachments"]["media_keys"][1], url=second_url)]))

    tweet = Tweet.objects.get()
    assert tweet.media_lookup and tweet.not_before is not None and tweet.attempts == 0  # a free round: the lookup goes on after the reset
    assert tweet.status == Tweet.Status.PROCESSING and not Reply.objects.exists() and media_server.paths == []


def test_a_photo_by_someone_who_opted_out_is_never_downloaded_even_when_asked_about(deliver_payload, fake_x, media_server):
    services.optout_create(OTHER_ID, username=OTHER_NAME)
    url, _data = serve_jpeg(media_server)
    parent = photo_post(fake_x, url, author_id=OTHER_ID, username=OTHER_NAME, mention_bot=False)
    mention = payloads.v2_post(text=f"@{payloads.BOT_NAME} what is this?", photos=0, replied_to=(parent["id"], OTHER_ID))
    fake_x.add_post(mention, username="ana")

    deliver_payload(payloads.activity_delivery(mention))

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.photos_from_x_id) == (Tweet.Status.DONE, "")
    assert not Photo.objects.exists() and not media_server.requests  # nothing of theirs fetched
    assert Reply.objects.get().text == NO_PHOTO_REPLY  # and nothing of theirs described
    assert_x_saw_only_valid_requests(fake_x)


def test_no_photo_anywhere_gets_the_no_photo_reply(deliver_payload, fake_x):
    parent = fake_x.add_post(payloads.v2_post(photos=0, author_id=OTHER_ID, mention_bot=False), username=OTHER_NAME)
    mention = payloads.v2_post(photos=0, replied_to=(parent["id"], OTHER_ID))

    deliver_payload(payloads.activity_delivery(mention))

    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert Reply.objects.get().text == NO_PHOTO_REPLY
    assert_x_saw_only_valid_requests(fake_x)


def test_a_failed_lookup_leaves_the_tweet_for_the_sweeper_and_the_next_try_answers(
    deliver_payload, fake_x, media_server, rekognition_stub, sweep
):
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    post = photo_post(fake_x, url)
    for _ in range(4):  # the first try and its three retries
        fake_x.queue("GET", "/2/tweets", 503)

    deliver_payload(payloads.activity_delivery(post))

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.media_lookup) == (Tweet.Status.PROCESSING, True)  # the sweeper reopens it
    assert "looking up photos: 503" in tweet.last_error
    assert not Photo.objects.exists() and not Reply.objects.exists()

    age(tweet)
    sweep()
    assert Tweet.objects.get().status == Tweet.Status.DONE and Reply.objects.get().text == DOG_REPLY


def test_lookups_are_batched_a_hundred_posts_a_call(fake_x, monkeypatch):
    tweets = [
        Tweet.objects.create(
            x_id=str(1600000000000100000 + i), author_x_id=payloads.AUTHOR_ID, status=Tweet.Status.RECEIVED, media_lookup=True
        )
        for i in range(150)
    ]

    services.tweets_hydrate([tweet.pk for tweet in tweets])

    assert [len(query["ids"].split(",")) for query in lookups(fake_x)] == [100, 50]
    assert not Tweet.objects.filter(media_lookup=True).exists()
    assert_x_saw_only_valid_requests(fake_x)


def test_a_spent_rate_limit_holds_the_tweet_back_until_its_reset(deliver_payload, fake_x, media_server):
    url, _data = serve_jpeg(media_server)
    post = photo_post(fake_x, url)
    fake_x.queue("GET", "/2/tweets", 429, headers=rate_limited(3600))

    deliver_payload(payloads.activity_delivery(post))

    tweet = Tweet.objects.get()
    assert tweet.media_lookup and tweet.not_before is not None and tweet.attempts == 0  # this round is free
    assert "429" in tweet.last_error and media_server.paths == []


def test_a_lookup_held_for_its_own_limit_is_not_held_back_by_the_reply_window(
    deliver_payload, sweep, fake_x, media_server, rekognition_stub
):
    url, data = serve_jpeg(media_server)
    post = photo_post(fake_x, url)
    fake_x.queue("GET", "/2/tweets", 429, headers=rate_limited(3600))
    deliver_payload(payloads.activity_delivery(post))
    assert Tweet.objects.get().not_before is not None  # the lookup waits for GET /2/tweets' window
    # That window has ended; the replies' own (POST /2/tweets) is spent for an hour.
    Tweet.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    RateBudget.objects.create(endpoint="POST /2/tweets", limit=100, remaining=0, resets_at=timezone.now() + timedelta(hours=1))
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})

    assert sweep()["redispatched"] == 1

    tweet = Tweet.objects.get()
    assert not tweet.media_lookup and media_server.paths == ["/dog.jpg"]
    assert Photo.objects.get().status == Photo.Status.RECOGNISED
    assert Reply.objects.get().status == Reply.Status.PENDING and fake_x.posts() == []  # the reply, in turn, waits for its window
