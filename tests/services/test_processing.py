"""bot.services.processing end to end: a mention through the webhook, fetched, recognised, replied to, cleaned up.

Every case goes in through the webhook (a signed POST) and runs inline: the photo is
fetched from a local media server, stored in a temporary MEDIA_ROOT (FileSystemStorage),
recognised by a real boto3 Rekognition client answered by botocore's Stubber, and the
reply is posted to the fake X server, which verifies OAuth 1.0a signatures and validates
bodies against X's OpenAPI document. Each test then checks the database and what reached
the outside. Waits go through the sleep seams, replaced by recorders, so nothing waits.

The other end-to-end files in tests/services/ run the same way. Photos in S3 and S3
events: test_processing_s3.py; real races on PostgreSQL: test_processing_concurrency.py.
"""

from __future__ import annotations

import pytest

from bot import media, recognition, services
from bot.events import samples as payloads
from bot.models import Delivery, Label, Photo, Reply, Tweet
from tests.fixtures.aws import AWS_ENV_TO_CLEAR, NO_AWS_CONFIG, labels_response, stub_detection
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests
from tests.fixtures.media_server import serve_jpeg
from tests.fixtures.pipeline import (
    DOG,
    DOG_REPLY,
    FIRST_POST_ID,
    NO_PHOTO_REPLY,
    age,
    assert_rows_agree_with_storage,
    photo_folders,
    reply_body,
    stored_files,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]  # nothing waits for X


# --- The usual path ---------------------------------------------------------------------


def test_an_animal_photo_gets_one_reply_in_its_thread_and_the_photo_is_deleted_after(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls
):
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    post = payloads.tweet(urls=[url])

    deliver(post)

    tweet = Tweet.objects.get()
    assert (tweet.x_id, tweet.status, tweet.last_error, tweet.attempts) == (post["id_str"], Tweet.Status.DONE, "", 1)
    reply = Reply.objects.get()
    assert (reply.status, reply.text, reply.attempts, reply.last_error) == (Reply.Status.POSTED, DOG_REPLY, 1, "")
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert len(fake_x.requests) == 1 and fake_x.requests[0].status == 201
    assert_x_saw_only_valid_requests(fake_x)
    assert reply.x_id == FIRST_POST_ID and reply.posted_at is not None
    photo = Photo.objects.get()
    assert (photo.status, photo.last_error, photo.is_thumbnail, photo.flagged) == (Photo.Status.RECOGNISED, "", False, False)
    assert (photo.content_type, photo.size, photo.width, photo.height) == ("image/jpeg", len(data), 120, 90)
    assert photo.file.name == "" and stored_files() == []  # retention default: deleted once the reply settled
    assert media_server.paths == ["/dog.jpg"]
    rekognition_stub.assert_no_pending_responses()
    assert [name for name, _ in rekognition_calls] == ["DetectLabels", "DetectModerationLabels"]
    dog = Label.objects.get(name="Dog")
    assert (dog.photo_id, dog.confidence, dog.is_moderation) == (photo.pk, 99.5, False)
    assert dog.parents == ["Animal", "Pet", "Mammal", "Canine"] and dog.categories == ["Animals and Pets"]
    assert list(Label.objects.values_list("name", flat=True)) == ["Dog", "Pet", "Animal", "Mammal"]


def test_four_photos_are_each_recognised_once_and_their_labels_merged_by_confidence(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls
):
    answers = [
        labels_response(("Dog", 99.0, ("Animal", "Pet")), ("Animal", 97.0)),
        labels_response(("Cat", 98.0, ("Animal", "Pet")), ("Animal", 99.5)),
        labels_response(("dog", 95.0, ("Animal", "Pet")), ("Grass", 90.0, ("Plant",))),
        labels_response(("Pet", 96.0, ("Animal",)), ("Animal", 80.0)),
    ]
    urls = []
    for position, (answer, color) in enumerate(zip(answers, ("red", "green", "blue", "yellow"), strict=False)):
        url, data = serve_jpeg(media_server, f"p{position}.jpg", color=color)
        urls.append(url)
        stub_detection(rekognition_stub, labels=answer, image={"Bytes": data})  # each answer for its own photo
    post = payloads.tweet(urls=urls)

    deliver(post)

    text = "Hi @ana. On your images, I can recognise: Animal, Dog, Cat, Pet, Grass."
    assert Reply.objects.get().text == text and fake_x.posts() == [reply_body(text, post)]
    assert len(rekognition_calls.named("DetectLabels")) == 4 and len(rekognition_calls.named("DetectModerationLabels")) == 4
    rekognition_stub.assert_no_pending_responses()
    assert sorted(media_server.paths) == ["/p0.jpg", "/p1.jpg", "/p2.jpg", "/p3.jpg"]
    assert list(Photo.objects.values_list("position", "status")) == [(i, Photo.Status.RECOGNISED) for i in range(4)]
    assert Label.objects.count() == 8  # every photo keeps its own labels; only the reply merges
    assert Tweet.objects.get().status == Tweet.Status.DONE and stored_files() == []


def test_a_post_without_a_photo_gets_the_no_photo_reply_without_fetching_or_recognising(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls
):
    post = payloads.tweet(photos=0)

    deliver(post)

    assert fake_x.posts() == [reply_body(NO_PHOTO_REPLY, post)]
    assert Reply.objects.get().status == Reply.Status.POSTED and Tweet.objects.get().status == Tweet.Status.DONE
    assert media_server.requests == [] and rekognition_calls == [] and Photo.objects.count() == 0
    rekognition_stub.assert_no_pending_responses()


def test_the_same_delivery_twice_is_processed_and_answered_once(deliver, fake_x, media_server, rekognition_stub, rekognition_calls):
    urls = [serve_jpeg(media_server, f"p{i}.jpg", color=c)[0] for i, c in enumerate(("red", "blue"))]
    for _ in urls:
        stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=urls)

    deliver(post)
    deliver(post)

    assert Delivery.objects.count() == 2 and Tweet.objects.count() == 1 and Reply.objects.count() == 1
    assert len(rekognition_calls.named("DetectLabels")) == 2  # one per photo
    assert len(media_server.requests) == 2
    text = "Hi @ana. On your images, I can recognise: Dog, Pet, Animal, Mammal."
    assert fake_x.posts() == [reply_body(text, post)]
    assert Tweet.objects.get().attempts == 1
    rekognition_stub.assert_no_pending_responses()


# --- Failing for good -------------------------------------------------------------------


def test_without_aws_credentials_the_tweet_fails_in_plain_words_and_nothing_is_posted(
    deliver, fake_x, media_server, recognition_sleeps, monkeypatch
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", *AWS_ENV_TO_CLEAR):
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_AWS_CONFIG.items():
        monkeypatch.setenv(name, value)
    url, _ = serve_jpeg(media_server)

    deliver(payloads.tweet(urls=[url]))

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.FAILED
    assert "credentials" in tweet.last_error
    assert "Traceback" not in tweet.last_error and "\n" not in tweet.last_error
    assert fake_x.requests == [] and Reply.objects.count() == 0
    assert recognition_sleeps == []  # nothing to retry
    assert Label.objects.count() == 0
    assert stored_files() == []  # failed for good: retention applies as after a reply


# --- Deleted on the way -----------------------------------------------------------------


def test_a_post_deleted_before_the_reply_gets_no_reply_and_loses_its_stored_photos(deliver, sweep, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(4):
        fake_x.queue("POST", "/2/tweets", 500)
    post = payloads.tweet(urls=[url])
    deliver(post)
    assert len(stored_files()) == 1 and Reply.objects.get().status == Reply.Status.PENDING

    deliver(tweet_delete_events=[payloads.delete_event(post["id_str"])])

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.DELETED and tweet.deleted_at is not None
    assert stored_files() == [] and Photo.objects.get().file.name == ""
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}
    assert fake_x.posts() == [] and len(fake_x.calls("POST", "/2/tweets")) == 4
    assert Label.objects.count() == 4  # the record stays; only the photo goes


def test_a_post_deleted_while_its_photo_is_recognised_gets_no_reply(
    deliver, deliver_meanwhile, fake_x, media_server, rekognition_stub, monkeypatch
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=[url])
    real_detect = recognition.detect

    def deleted_meanwhile(image, **kwargs):
        deliver_meanwhile(tweet_delete_events=[payloads.delete_event(post["id_str"])])
        return real_detect(image, **kwargs)

    monkeypatch.setattr(recognition, "detect", deleted_meanwhile)

    deliver(post)

    assert Tweet.objects.get().status == Tweet.Status.DELETED
    assert fake_x.requests == [] and Reply.objects.count() == 0
    assert stored_files() == []


def test_a_post_deleted_while_its_photo_is_fetched_keeps_no_stored_photo(
    deliver, deliver_meanwhile, fake_x, media_server, rekognition_stub, monkeypatch
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)  # in case it is (wrongly) recognised anyway
    post = payloads.tweet(urls=[url])
    real_fetch = media.fetch_image

    def deleted_meanwhile(source_url):
        image = real_fetch(source_url)
        deliver_meanwhile(tweet_delete_events=[payloads.delete_event(post["id_str"])])
        return image

    monkeypatch.setattr(media, "fetch_image", deleted_meanwhile)

    deliver(post)

    assert Tweet.objects.get().status == Tweet.Status.DELETED
    assert fake_x.requests == [] and Reply.objects.count() == 0
    assert stored_files() == [], "the deleted post's photo is still stored"


def test_a_post_deleted_while_its_photo_is_being_written_keeps_no_stored_photo(
    deliver, deliver_meanwhile, fake_x, media_server, rekognition_stub, monkeypatch
):
    # The row says "stored" a moment before the file exists (so an S3 event never finds
    # the row behind); a deletion in that moment removes nothing, so the writer must.
    url, _ = serve_jpeg(media_server)
    post = payloads.tweet(urls=[url])
    real_save = services.storage.default_storage.save

    def deleted_meanwhile(name, content, **kwargs):
        deliver_meanwhile(tweet_delete_events=[payloads.delete_event(post["id_str"])])
        return real_save(name, content, **kwargs)

    monkeypatch.setattr(services.storage.default_storage, "save", deleted_meanwhile)

    deliver(post)

    assert Tweet.objects.get().status == Tweet.Status.DELETED
    assert fake_x.requests == [] and Reply.objects.count() == 0
    assert stored_files() == [], "the deleted post's photo is still stored"
    assert photo_folders() == []  # nor its folder
    assert_rows_agree_with_storage()
