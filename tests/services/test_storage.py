"""bot.services.storage: after every clean-up, a photo's row and its file say the same thing.

No row names a file that is not stored, no photo waits for recognition (`stored`,
`recognising`) without its file, and no empty per-tweet folder is left in the local
media folder. Each clean-up path is driven as in use: through the webhook (a tweet failed,
answered or deleted), the sweeper finishing a clean-up that failed, and the deletion of
tweets' records (the admin's way); then S3, where there are no folders.
"""

from __future__ import annotations

import logging

import pytest
from django.core.files.storage import default_storage
from django.db import transaction

from bot import services
from bot.events import samples as payloads
from bot.models import Label, Photo, Reply, Tweet
from bot.services.storage import photo_storage_name, storage_replace, tweet_photos_delete, tweets_delete
from tests.fixtures.aws import AWS_ENV_TO_CLEAR, NO_AWS_CONFIG, stub_detection
from tests.fixtures.media_server import make_image_bytes, serve_jpeg
from tests.fixtures.pipeline import DOG, age, assert_rows_agree_with_storage, photo_folders, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]  # nothing waits for X


@pytest.fixture
def without_aws_credentials(monkeypatch):
    """Recognition fails for good (PermanentFailure): the tweet fails while its photo is stored."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", *AWS_ENV_TO_CLEAR):
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_AWS_CONFIG.items():
        monkeypatch.setenv(name, value)


def throttle_recognition(rekognition_stub, monkeypatch) -> None:
    """Rekognition throttles the next photo beyond its retries: the photo goes back to `stored` for the sweeper."""
    monkeypatch.setenv("IMAGEBOT_AWS_MAX_RETRIES", "0")
    rekognition_stub.add_client_error("detect_labels", "ThrottlingException", "Rate exceeded", 400)


# --- A tweet that settles -------------------------------------------------------------------------


def test_a_failed_tweets_photo_waiting_for_recognition_is_failed_with_the_reason_when_its_file_goes(
    deliver, fake_x, media_server, recognition_sleeps, without_aws_credentials
):
    url, _ = serve_jpeg(media_server)

    deliver(payloads.tweet(urls=[url]))

    assert Tweet.objects.get().status == Tweet.Status.FAILED
    photo = Photo.objects.get()
    assert (photo.status, photo.file.name) == (Photo.Status.FAILED, "")
    assert photo.last_error == "removed before recognition: the tweet failed"
    assert stored_files() == [] and photo_folders() == []
    assert_rows_agree_with_storage()


def test_an_answered_tweets_photos_keep_their_status_and_labels_and_lose_their_folder(deliver, fake_x, media_server, rekognition_stub):
    urls = [serve_jpeg(media_server, f"p{i}.jpg", color=color)[0] for i, color in enumerate(("red", "blue"))]
    for _ in urls:
        stub_detection(rekognition_stub, labels=DOG)

    deliver(payloads.tweet(urls=urls))

    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert list(Photo.objects.values_list("status", "file", "last_error")) == [(Photo.Status.RECOGNISED, "", "")] * 2
    assert Label.objects.count() == 8
    assert stored_files() == [] and photo_folders() == []
    assert_rows_agree_with_storage()


def test_photos_kept_on_purpose_keep_their_files_and_say_so(
    deliver, fake_x, media_server, recognition_sleeps, without_aws_credentials, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "on")
    url, _ = serve_jpeg(media_server)

    deliver(payloads.tweet(urls=[url]))

    photo = Photo.objects.get()
    assert Tweet.objects.get().status == Tweet.Status.FAILED
    assert photo.status == Photo.Status.STORED and stored_files() == [photo.file.name]
    assert_rows_agree_with_storage()


# --- A tweet deleted by its author ---------------------------------------------------------------


def test_a_deleted_tweets_photo_waiting_for_recognition_is_failed_when_its_file_goes(
    deliver, fake_x, media_server, rekognition_stub, monkeypatch
):
    url, _ = serve_jpeg(media_server)
    throttle_recognition(rekognition_stub, monkeypatch)
    post = payloads.tweet(urls=[url])
    deliver(post)
    assert Photo.objects.get().status == Photo.Status.STORED and len(stored_files()) == 1  # left for the sweeper

    deliver(tweet_delete_events=[payloads.delete_event(post["id_str"])])

    photo = Photo.objects.get()
    assert (photo.status, photo.file.name) == (Photo.Status.FAILED, "")
    assert photo.last_error == "removed before recognition: the tweet was deleted"
    assert stored_files() == [] and photo_folders() == []
    assert_rows_agree_with_storage()


def test_a_deleted_tweets_recognised_photo_keeps_its_labels(deliver, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "on")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=[url])
    deliver(post)
    assert len(stored_files()) == 1

    deliver(tweet_delete_events=[payloads.delete_event(post["id_str"])])

    photo = Photo.objects.get()
    assert (photo.status, photo.file.name, photo.labels.count()) == (Photo.Status.RECOGNISED, "", 4)
    assert stored_files() == [] and photo_folders() == []
    assert_rows_agree_with_storage()


def test_the_sweepers_clean_up_of_leftovers_leaves_the_rows_agreeing_with_storage(
    deliver, sweep, fake_x, media_server, recognition_sleeps, without_aws_credentials, monkeypatch
):
    url, _ = serve_jpeg(media_server)
    real_delete = services.settling.tweet_photos_delete
    monkeypatch.setattr(services.settling, "tweet_photos_delete", lambda tweet_pk: 0)  # storage refusing deletes
    deliver(payloads.tweet(urls=[url]))
    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.FAILED and Photo.objects.get().status == Photo.Status.STORED
    assert_rows_agree_with_storage()  # the file is still there: the row may say stored
    monkeypatch.setattr(services.settling, "tweet_photos_delete", real_delete)  # storage working again

    age(tweet)
    assert sweep()["photos_deleted"] == 1

    photo = Photo.objects.get()
    assert (photo.status, photo.file.name) == (Photo.Status.FAILED, "")
    assert photo.last_error == "removed before recognition: the tweet failed"
    assert stored_files() == [] and photo_folders() == []
    assert_rows_agree_with_storage()


def test_a_failing_delete_keeps_the_row_naming_the_file_for_the_sweeper(deliver, fake_x, media_server, rekognition_stub, monkeypatch):
    url, _ = serve_jpeg(media_server)
    throttle_recognition(rekognition_stub, monkeypatch)
    post = payloads.tweet(urls=[url])
    deliver(post)
    tweet = Tweet.objects.get()
    Tweet.objects.filter(pk=tweet.pk).move(Tweet.Status.PROCESSING, Tweet.Status.DELETED, photos_cleanup=True)

    def refused(name):
        raise OSError("storage is down")

    monkeypatch.setattr(default_storage, "delete", refused)
    with pytest.raises(OSError, match="storage is down"):
        tweet_photos_delete(tweet.pk)

    photo = Photo.objects.get()
    assert photo.status == Photo.Status.STORED and stored_files() == [photo.file.name]
    assert_rows_agree_with_storage()


# --- Deleting tweets' records (the admin's way) --------------------------------------------------


def test_deleting_tweets_deletes_their_records_and_then_their_files(
    deliver, fake_x, media_server, rekognition_stub, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "on")
    posts = []
    for color in ("red", "blue", "green"):
        url, _ = serve_jpeg(media_server, f"{color}.jpg", color=color)
        stub_detection(rekognition_stub, labels=DOG)
        posts.append(payloads.tweet(urls=[url], tweet_id=str(1_600_000_000_000_000_100 + len(posts))))
        deliver(posts[-1])
    assert len(stored_files()) == 3 and len(photo_folders()) == 3
    kept = Tweet.objects.get(x_id=posts[2]["id_str"])

    with django_capture_on_commit_callbacks(execute=True):
        assert tweets_delete(Tweet.objects.exclude(pk=kept.pk).values_list("pk", flat=True)) == 2

    assert list(Tweet.objects.all()) == [kept]
    assert Photo.objects.count() == 1 and Reply.objects.count() == 1 and Label.objects.count() == 4
    assert stored_files() == [Photo.objects.get().file.name] and photo_folders() == [kept.x_id]
    assert_rows_agree_with_storage()


def test_a_deletion_rolled_back_keeps_every_file(deliver, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "on")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    deliver(payloads.tweet(urls=[url]))

    with pytest.raises(RuntimeError), transaction.atomic():
        tweets_delete([Tweet.objects.get().pk])
        raise RuntimeError("the admin's transaction failed")

    assert Photo.objects.count() == 1 and len(stored_files()) == 1
    assert_rows_agree_with_storage()


def test_a_file_that_cannot_be_removed_does_not_keep_the_others_and_is_logged(
    deliver, fake_x, media_server, rekognition_stub, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "on")
    urls = [serve_jpeg(media_server, f"p{i}.jpg", color=color)[0] for i, color in enumerate(("red", "blue"))]
    for _ in urls:
        stub_detection(rekognition_stub, labels=DOG)
    deliver(payloads.tweet(urls=urls))
    first, _second = Photo.objects.order_by("position").values_list("file", flat=True)
    real_delete = default_storage.delete

    def refuses_the_first(name):
        if name == first:
            raise OSError("storage is down")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", refuses_the_first)
    with django_capture_on_commit_callbacks(execute=True):
        tweets_delete([Tweet.objects.get().pk])

    assert not Tweet.objects.exists() and stored_files() == [first]
    assert f"left in storage (no row names them now): {first}" in caplog.text


# --- Folders ----------------------------------------------------------------------------------


def test_a_tweets_folder_stays_while_it_holds_anything_else(deliver, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "on")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=[url])
    deliver(post)
    other = f"photos/{post['id_str']}/notes.txt"
    default_storage.save(other, services.storage.ContentFile(b"an operator's note"))

    tweet_photos_delete(Tweet.objects.get().pk)

    assert stored_files() == [other] and photo_folders() == [post["id_str"]]
    assert_rows_agree_with_storage()


def test_on_s3_the_objects_go_and_the_rows_say_so(s3_in_process, caplog):
    caplog.set_level(logging.WARNING)
    tweet = Tweet.objects.create(x_id="1600000000000000001", author_x_id="2", status=Tweet.Status.FAILED)
    names = []
    for position, status in enumerate((Photo.Status.STORED, Photo.Status.RECOGNISED)):
        name = storage_replace(
            photo_storage_name(tweet_x_id=tweet.x_id, position=position, extension="png"), make_image_bytes("PNG", (90, 90))
        )
        names.append(name)
        Photo.objects.create(tweet=tweet, position=position, source_url="https://pbs.twimg.com/media/a.png", status=status, file=name)
    assert s3_in_process.keys() == names

    assert tweet_photos_delete(tweet.pk) == 2

    assert s3_in_process.keys() == []
    assert list(Photo.objects.values_list("status", "file")) == [(Photo.Status.FAILED, ""), (Photo.Status.RECOGNISED, "")]
    assert_rows_agree_with_storage()
    assert caplog.records == []
