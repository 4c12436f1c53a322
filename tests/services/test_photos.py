"""bot.services.photos: each photo fetched, checked and stored once, then recognised once.

A photo that cannot be used fails alone, with its reason; the reply describes the others.
End to end through the webhook, as in test_processing.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from bot.events import samples as payloads
from bot.models import Label, Photo, Tweet
from tests.fixtures.aws import labels_response, moderation_response, stub_detection
from tests.fixtures.media_server import make_animated_gif_bytes, make_image_bytes, make_noise_image_bytes, serve_jpeg
from tests.fixtures.pipeline import DOG, DOG_REPLY, age, reply_body, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]  # nothing waits for X


# --- Stored and recognised --------------------------------------------------------------


def test_kept_photos_are_stored_under_the_tweet_id_and_position_only(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "1")
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=[url])

    deliver(post)

    photo = Photo.objects.get()
    key = f"photos/{post['id_str']}/0.jpg"
    assert photo.file.name == key and stored_files() == [key]
    assert payloads.AUTHOR_NAME not in key and payloads.AUTHOR_ID not in key
    assert (Path(settings.MEDIA_ROOT) / key).read_bytes() == data  # a JPEG that fits is stored untouched
    assert rekognition_calls[0][1]["Image"] == {"Bytes": data}  # Rekognition read what was stored
    assert Tweet.objects.get().status == Tweet.Status.DONE and fake_x.posts() == [reply_body(DOG_REPLY, post)]
    rekognition_stub.assert_no_pending_responses()


def test_a_gif_is_recognised_from_its_thumbnail_converted_to_jpeg(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "1")
    gif = make_animated_gif_bytes(size=(120, 90))
    url = media_server.route("tweet_video_thumb/cat.gif", gif, content_type="image/gif")
    stub_detection(rekognition_stub, labels=labels_response(("Cat", 97.0, ("Animal", "Pet"))))
    post = payloads.tweet(kinds=("animated_gif",), urls=[url])

    deliver(post)

    photo = Photo.objects.get()
    assert (photo.media_type, photo.is_thumbnail, photo.status) == ("animated_gif", True, Photo.Status.RECOGNISED)
    assert photo.content_type == "image/jpeg" and photo.file.name == f"photos/{post['id_str']}/0.jpg"
    sent = rekognition_calls[0][1]["Image"]["Bytes"]
    assert sent.startswith(b"\xff\xd8") and sent != gif  # converted: Rekognition takes no GIF
    with Image.open(Path(settings.MEDIA_ROOT) / photo.file.name) as stored:
        assert (stored.format, stored.size) == ("JPEG", (120, 90))
    assert media_server.paths == ["/tweet_video_thumb/cat.gif"]
    assert fake_x.posts() == [reply_body("Hi @ana. On your image, I can recognise: Cat.", post)]
    rekognition_stub.assert_no_pending_responses()


# --- Photos that cannot be used ---------------------------------------------------------


@pytest.fixture
def bad_photos(media_server, monkeypatch) -> list[str]:
    """URLs of an image over the byte cap and of bytes that are no image."""
    monkeypatch.setenv("IMAGEBOT_MEDIA_MAX_BYTES", "1024")
    big = media_server.serve_image("big.png", make_noise_image_bytes("PNG", (256, 256)))
    broken = media_server.route("broken.jpg", b"\xff\xd8\xff\xe0 these bytes are not a JPEG", content_type="image/jpeg")
    return [big, broken]


def test_unusable_photos_fail_with_reasons_and_the_reply_describes_the_good_one(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls, bad_photos
):
    good, data = serve_jpeg(media_server)  # 821 bytes: under the 1024-byte cap
    assert len(data) < 1024
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    post = payloads.tweet(urls=[bad_photos[0], good, bad_photos[1]])

    deliver(post)

    big, ok, broken = Photo.objects.order_by("position")
    assert big.status == Photo.Status.FAILED and big.last_error.startswith("image too large: ")
    assert "1024" in big.last_error
    assert broken.status == Photo.Status.FAILED and broken.last_error.startswith("not an image (")
    for photo in (big, broken):
        assert "Traceback" not in photo.last_error and photo.file.name == ""
    assert ok.status == Photo.Status.RECOGNISED
    text = "Hi @ana. On your images, I can recognise: Dog, Pet, Animal, Mammal."
    assert fake_x.posts() == [reply_body(text, post)]
    assert len(rekognition_calls.named("DetectLabels")) == 1
    rekognition_stub.assert_no_pending_responses()
    assert Tweet.objects.get().status == Tweet.Status.DONE and stored_files() == []


def test_only_unusable_photos_get_the_could_not_read_reply(deliver, fake_x, rekognition_stub, rekognition_calls, bad_photos):
    post = payloads.tweet(urls=bad_photos)

    deliver(post)

    assert list(Photo.objects.values_list("status", flat=True)) == [Photo.Status.FAILED] * 2
    assert fake_x.posts() == [reply_body("Hi @ana. Sorry, I couldn't read your images.", post)]
    assert rekognition_calls == [] and Tweet.objects.get().status == Tweet.Status.DONE


def test_a_url_outside_the_allow_list_is_never_fetched(deliver, fake_x, media_server, rekognition_stub, rekognition_calls):
    # The same server under another host name: reachable, but not allow-listed.
    elsewhere = media_server.base_url.replace("127.0.0.1", "localhost") + "dog.jpg"
    media_server.serve_image("dog.jpg", make_image_bytes())
    post = payloads.tweet(urls=[elsewhere])

    deliver(post)

    photo = Photo.objects.get()
    assert (photo.status, photo.last_error) == (Photo.Status.FAILED, f"URL outside the allow-list: {elsewhere}")
    assert media_server.requests == []
    assert fake_x.posts() == [reply_body("Hi @ana. Sorry, I couldn't read your image.", post)]
    assert rekognition_calls == []


def test_a_redirect_out_of_the_allow_list_is_not_followed(deliver, fake_x, media_server, rekognition_stub, rekognition_calls):
    elsewhere = media_server.base_url.replace("127.0.0.1", "localhost") + "dog.jpg"
    media_server.serve_image("dog.jpg", make_image_bytes())
    hop = media_server.route("hop.jpg", status=302, location=elsewhere)

    deliver(payloads.tweet(urls=[hop]))

    photo = Photo.objects.get()
    assert (photo.status, photo.last_error) == (Photo.Status.FAILED, f"redirect outside the allow-list: {elsewhere}")
    assert media_server.paths == ["/hop.jpg"]
    assert rekognition_calls == [] and Tweet.objects.get().status == Tweet.Status.DONE


# --- Rekognition failing ----------------------------------------------------------------


def test_rekognition_throttling_is_retried_once_and_the_labels_stored(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls, recognition_sleeps
):
    url, _ = serve_jpeg(media_server)
    rekognition_stub.add_client_error(
        "detect_labels", service_error_code="ThrottlingException", service_message="Rate exceeded", http_status_code=400
    )
    stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=[url])

    deliver(post)

    assert len(rekognition_calls.named("DetectLabels")) == 2 and len(rekognition_calls.named("DetectModerationLabels")) == 1
    assert len(recognition_sleeps) == 1
    rekognition_stub.assert_no_pending_responses()
    assert Label.objects.count() == 4 and Photo.objects.get().status == Photo.Status.RECOGNISED
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)] and Tweet.objects.get().status == Tweet.Status.DONE


def test_a_failed_moderation_call_is_retried_without_asking_for_labels_again(
    deliver, sweep, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_AWS_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    rekognition_stub.add_response("detect_labels", DOG)
    rekognition_stub.add_client_error(
        "detect_moderation_labels", service_error_code="ThrottlingException", service_message="Rate exceeded", http_status_code=400
    )
    post = payloads.tweet(urls=[url])

    deliver(post)

    photo = Photo.objects.get()
    assert (photo.status, photo.labels_detected) == (Photo.Status.STORED, True)
    assert sorted(photo.labels.values_list("name", flat=True)) == ["Animal", "Dog", "Mammal", "Pet"]
    assert fake_x.posts() == []

    rekognition_stub.add_response("detect_moderation_labels", moderation_response())
    age(Tweet.objects.get())
    sweep()

    assert [name for name, _ in rekognition_calls] == ["DetectLabels", "DetectModerationLabels", "DetectModerationLabels"]
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    rekognition_stub.assert_no_pending_responses()
