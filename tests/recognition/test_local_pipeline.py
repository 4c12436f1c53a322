"""The whole pipeline with the local recogniser: webhook → fetch → store → recognise → dry-run reply.

Real boundaries as in tests/test_pipeline.py (a signed POST to the webhook, the local
media server, FileSystemStorage in a temporary MEDIA_ROOT or moto's S3 server), on
SQLite, with the real models and no AWS credentials at all: nothing is stubbed but the
NSFW score of the flagged case. X credentials are absent, so replies are dry runs.
"""

from __future__ import annotations

import sys

import pytest

from bot.events import samples as payloads
from bot.models import Label, Photo, Reply, Tweet
from bot.recognition import local
from tests.fixtures.aws import AWS_ENV_TO_CLEAR
from tests.recognition.conftest import photo_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_recogniser")]

CAT_REPLY = "Hi @ana. On your image, I can recognise: Animal, Mammal, Feline, Pet, Cat."
COFFEE_REPLY = "Hi @ana. I don't see an animal on your image, but I can recognise: Beverage, Espresso."
FLAGGED_REPLY = "Hi @ana. Thanks for the mention. I can't describe this image."


@pytest.fixture(autouse=True)
def no_aws_at_all(monkeypatch):
    for name in (*AWS_ENV_TO_CLEAR, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mention(post_signed, media_server, django_capture_on_commit_callbacks):
    """Deliver a signed mention with the named committed photos and run what it dispatches (inline)."""

    def mention_(*names: str) -> dict:
        tweet_id = payloads.next_id()
        urls = [media_server.serve_image(f"/media/{tweet_id}-{i}.jpg", photo_bytes(name)) for i, name in enumerate(names)]
        post = payloads.tweet(tweet_id=tweet_id, urls=urls)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(payloads.delivery(post))
        assert response.status_code == 200, response.content
        return post

    return mention_


def test_a_cat_photo_is_recognised_locally_and_answered_as_an_animal(mention):
    mention("chelsea-the-cat.jpg")

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.last_error) == (Tweet.Status.DONE, "")
    reply = Reply.objects.get()
    assert (reply.status, reply.text) == (Reply.Status.DRY_RUN, CAT_REPLY)
    photo = Photo.objects.get()
    assert (photo.status, photo.flagged, photo.last_error) == (Photo.Status.RECOGNISED, False, "")
    cat = Label.objects.get(name="Cat")
    assert cat.confidence >= 85 and not cat.is_moderation and "Animal" in cat.parents and cat.categories == ["Animals and Pets"]
    assert not Label.objects.filter(is_moderation=True).exists()


def test_two_photos_are_merged_into_one_reply(mention):
    mention("coffee.jpg", "chelsea-the-cat.jpg")

    text = Reply.objects.get().text
    assert text.startswith("Hi @ana. On your images, I can recognise: ") and "Cat" in text
    assert Photo.objects.filter(status=Photo.Status.RECOGNISED).count() == 2


def test_a_coffee_photo_gets_the_no_animal_reply(mention):
    mention("coffee.jpg")

    assert Reply.objects.get().text == COFFEE_REPLY
    assert Tweet.objects.get().status == Tweet.Status.DONE


def test_a_flagged_photo_gets_the_neutral_reply(mention, monkeypatch):
    monkeypatch.setattr(local.models(), "nsfw_probability", lambda photo: 0.93)

    mention("chelsea-the-cat.jpg")

    assert Reply.objects.get().text == FLAGGED_REPLY
    assert Photo.objects.get().flagged
    moderation = Label.objects.get(is_moderation=True)
    assert (moderation.name, moderation.confidence) == ("Explicit Nudity", 93.0)


def test_with_photos_in_s3_the_local_recogniser_reads_them_through_the_storage(s3_server, mention, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "0")
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "1")

    post = mention("chelsea-the-cat.jpg")

    assert Reply.objects.get().text == CAT_REPLY
    assert s3_server.keys() == [f"photos/{post['id_str']}/0.jpg"]


def test_an_s3_object_gone_before_recognition_is_fetched_again(s3_server, mention, monkeypatch):
    # The reader raises an OSError for a missing object, which photo_recognise answers by fetching the photo again.
    from bot.services import photos

    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "0")
    real_image = photos._recognition_image
    deleted = []

    def deleted_first(photo):
        if not deleted:
            deleted.append(photo.file.name)
            photo.file.storage.delete(photo.file.name)
        return real_image(photo)

    monkeypatch.setattr(photos, "_recognition_image", deleted_first)

    mention("chelsea-the-cat.jpg")

    photo = Photo.objects.get()
    assert deleted and photo.status == Photo.Status.PENDING and "stored file unreadable" in photo.last_error
    tweet = Tweet.objects.get()  # left for the sweeper, which dispatches it again: the photo is fetched anew
    assert tweet.status == Tweet.Status.PROCESSING and "stored file unreadable" in tweet.last_error
    assert not Reply.objects.exists()


def test_without_the_model_packages_the_tweet_fails_saying_what_to_install(mention, monkeypatch):
    monkeypatch.setattr(local, "_models", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)

    mention("chelsea-the-cat.jpg")

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.FAILED
    assert "pip install -r requirements-local.txt" in tweet.last_error
    assert not Reply.objects.exists()
