"""The pipeline end to end, over real boundaries.

Every case goes in through the webhook (a signed POST) and runs inline: the photo is
fetched from a local media server, stored in a temporary MEDIA_ROOT (FileSystemStorage),
recognised by a real boto3 Rekognition client answered by botocore's Stubber, and the
reply is posted to the fake X server, which verifies OAuth 1.0a signatures and validates
bodies against X's OpenAPI document. Each test then checks the database and what reached
the outside. Waits go through the sleep seams, replaced by recorders, so nothing waits.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from PIL import Image
from twitter_text import parse_tweet

from bot import media, recognition, services, x_api
from bot.models import Delivery, Label, Photo, Reply, Tweet
from bot.events import samples as payloads
from tests.fixtures.fake_x import BOT_USER_ID
from tests.fixtures.aws import AWS_ENV_TO_CLEAR, labels_response, moderation_response, stub_detection
from tests.fixtures.media_server import make_animated_gif_bytes, make_image_bytes, make_noise_image_bytes

pytestmark = pytest.mark.django_db

DOG = labels_response(
    ("Dog", 99.5, ("Animal", "Pet", "Mammal", "Canine")),
    ("Pet", 99.1, ("Animal",)),
    ("Animal", 98.7),
    ("Mammal", 98.7, ("Animal",)),
)
DOG_REPLY = "Hi @ana. On your image, I can recognise: Dog, Pet, Animal, Mammal."
CAR = labels_response(
    ("Car", 99.0, ("Vehicle", "Transportation"), ("Vehicles and Automotive",)),
    ("Vehicle", 98.0, ("Transportation",), ("Vehicles and Automotive",)),
    ("Wheel", 95.5, ("Machine",)),
)
CAR_REPLY = "Hi @ana. I don't see an animal on your image, but I can recognise: Car, Vehicle, Wheel."
FLAGGED_REPLY = "Hi @ana. Thanks for the mention. I can't describe this image."
NO_PHOTO_REPLY = (
    "Hi @ana. I recognise what is on photos, but I found no photo in your post. "
    "Mention me in a post with a photo and I'll tell you what I see."
)
FIRST_POST_ID = "1900000000000000001"  # the fake X numbers posts from here, per test
X_ERROR_500 = "500 Internal Server Error: Internal Server Error"


# --- Fixtures and helpers -------------------------------------------------------------


@pytest.fixture(autouse=True)
def x_waits(monkeypatch) -> list[float]:
    """Seconds the X client asked to wait (rate-limit resets, backoff); nothing really waits."""
    waits: list[float] = []
    monkeypatch.setattr(x_api, "sleep", waits.append)
    return waits


@pytest.fixture
def rekognition_calls(rekognition_stub) -> list[tuple[str, dict]]:
    """(operation, params) of every Rekognition call the client starts, seen before the Stubber answers."""
    calls: list[tuple[str, dict]] = []
    for operation in ("DetectLabels", "DetectModerationLabels"):
        rekognition_stub.client.meta.events.register(
            f"before-parameter-build.rekognition.{operation}",
            lambda params, event_name, **kwargs: calls.append((event_name.rsplit(".", 1)[1], params)),
        )
    return calls


@pytest.fixture
def deliver(post_signed, django_capture_on_commit_callbacks):
    """POST a signed delivery and run what it dispatches (inline), as X and a worker would."""

    def deliver_(*posts: dict, **other_events):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(payloads.delivery(*posts, **other_events))
        assert response.status_code == 200, response.content
        return response

    return deliver_


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweeper and whatever it re-dispatches."""

    def sweep_() -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return services.sweep()

    return sweep_


@pytest.fixture
def deliver_meanwhile(deliver):
    """A delivery committed while a worker is mid-step (called from inside the pipeline).

    Its on-commit work runs at once, exactly once, as after a real commit; the outer
    capture would otherwise run those callbacks a second time when the worker finishes.
    """

    def deliver_(*posts: dict, **other_events):
        run_on_commit = transaction.get_connection().run_on_commit
        before = len(run_on_commit)
        deliver(*posts, **other_events)
        del run_on_commit[before:]

    return deliver_


def count(calls: list[tuple[str, dict]], operation: str) -> int:
    return sum(1 for name, _ in calls if name == operation)


def age(tweet: Tweet, seconds: int = 3600) -> None:
    """Time passes for the sweeper: the tweet, its photos and its reply were last touched `seconds` ago."""
    then = timezone.now() - timedelta(seconds=seconds)
    Tweet.objects.filter(pk=tweet.pk).update(updated_at=then)
    Photo.objects.filter(tweet_id=tweet.pk).update(updated_at=then)
    Photo.objects.filter(tweet_id=tweet.pk, claimed_at__isnull=False).update(claimed_at=then)
    Reply.objects.filter(tweet_id=tweet.pk, claimed_at__isnull=False).update(claimed_at=then)
    Reply.objects.filter(tweet_id=tweet.pk, maybe_posted_at__isnull=False).update(maybe_posted_at=then)


def stored_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def assert_x_saw_only_valid_requests(fake_x) -> None:
    for request in fake_x.requests:
        assert request.auth_kind == "oauth1" and request.auth_ok, request.auth_error
        assert request.body_valid, request.validation_errors


def reply_body(text: str, tweet: dict) -> dict:
    return {"text": text, "reply": {"in_reply_to_tweet_id": tweet["id_str"]}}


def serve_jpeg(media_server, name: str = "dog.jpg", color="red") -> tuple[str, bytes]:
    data = make_image_bytes("JPEG", (120, 90), color=color)
    return media_server.serve_image(name, data), data


# --- The usual path -----------------------------------------------------------------


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
    for position, (answer, color) in enumerate(zip(answers, ("red", "green", "blue", "yellow"))):
        url, data = serve_jpeg(media_server, f"p{position}.jpg", color=color)
        urls.append(url)
        stub_detection(rekognition_stub, labels=answer, image={"Bytes": data})  # each answer for its own photo
    post = payloads.tweet(urls=urls)

    deliver(post)

    text = "Hi @ana. On your images, I can recognise: Animal, Dog, Cat, Pet, Grass."
    assert Reply.objects.get().text == text and fake_x.posts() == [reply_body(text, post)]
    assert count(rekognition_calls, "DetectLabels") == 4 and count(rekognition_calls, "DetectModerationLabels") == 4
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


def test_a_photo_without_an_animal_gets_the_other_text(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server, "car.jpg")
    stub_detection(rekognition_stub, labels=CAR)
    post = payloads.tweet(urls=[url])

    deliver(post)

    assert fake_x.posts() == [reply_body(CAR_REPLY, post)]
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert Label.objects.get(name="Car").categories == ["Vehicles and Automotive"]
    rekognition_stub.assert_no_pending_responses()


def test_a_flagged_photo_gets_a_neutral_reply_that_names_none_of_its_labels(
    deliver, fake_x, media_server, rekognition_stub
):
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
        ("Explicit Nudity", []), ("Nudity", ["Explicit Nudity"])
    ]
    assert Tweet.objects.get().status == Tweet.Status.DONE
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


# --- Photos that cannot be used -------------------------------------------------------


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
    assert count(rekognition_calls, "DetectLabels") == 1
    rekognition_stub.assert_no_pending_responses()
    assert Tweet.objects.get().status == Tweet.Status.DONE and stored_files() == []


def test_only_unusable_photos_get_the_could_not_read_reply(
    deliver, fake_x, rekognition_stub, rekognition_calls, bad_photos
):
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


# --- X failing ----------------------------------------------------------------------


def test_a_rate_limited_reply_waits_for_the_reset_and_is_posted_once(
    deliver, fake_x, media_server, rekognition_stub, x_waits
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    reset = int(time.time()) + 2
    fake_x.queue("POST", "/2/tweets", 429, headers={
        "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset),
    })
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


def test_x_failing_beyond_retries_leaves_the_reply_for_the_sweeper_which_posts_it_once(
    deliver, sweep, fake_x, media_server, rekognition_stub, x_waits
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(4):  # the first try and IMAGEBOT_X_MAX_RETRIES (3) more
        fake_x.queue("POST", "/2/tweets", 500)
    post = payloads.tweet(urls=[url])

    deliver(post)

    tweet, reply = Tweet.objects.get(), Reply.objects.get()
    assert (tweet.status, tweet.last_error) == (Tweet.Status.PROCESSING, f"reply: {X_ERROR_500}")
    assert (reply.status, reply.attempts, reply.last_error) == (Reply.Status.PENDING, 1, X_ERROR_500)
    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [500] * 4 and fake_x.posts() == []
    assert x_waits == [1.0, 2.0, 4.0]
    assert len(stored_files()) == 1  # kept until the reply settles
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}  # too recent for the sweeper

    age(tweet)
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    tweet.refresh_from_db(), reply.refresh_from_db()
    assert (tweet.status, tweet.last_error, tweet.attempts) == (Tweet.Status.DONE, "", 2)
    assert (reply.status, reply.attempts, reply.text) == (Reply.Status.POSTED, 2, DOG_REPLY)
    assert reply.x_id.isdigit()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert_x_saw_only_valid_requests(fake_x)
    assert stored_files() == []
    rekognition_stub.assert_no_pending_responses()  # the photo was not recognised again
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}


def test_a_lost_answer_from_x_ends_with_one_post_and_the_reply_posted(
    deliver, fake_x, media_server, rekognition_stub, monkeypatch
):
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


def test_a_lost_answer_without_retries_is_settled_by_the_sweeper_without_a_second_post(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    """The same lost answer when the retry is the sweeper's: X's duplicate refusal proves the post exists."""
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 201, delay=1.0)
    post = payloads.tweet(urls=[url])

    deliver(post)

    tweet, reply = Tweet.objects.get(), Reply.objects.get()
    assert tweet.status == Tweet.Status.PROCESSING
    assert tweet.last_error == "reply: POST /2/tweets: no answer within 0.2 s (read timeout)"
    assert reply.status == Reply.Status.PENDING

    age(tweet)
    sweep()

    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [201, 403]
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    reply.refresh_from_db(), tweet.refresh_from_db()
    assert (reply.status, reply.attempts) == (Reply.Status.POSTED, 2)
    assert reply.x_id.isdigit() and reply.last_error == ""  # found on the bot's own timeline
    assert tweet.status == Tweet.Status.DONE and stored_files() == []


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

    assert count(rekognition_calls, "DetectLabels") == 2 and count(rekognition_calls, "DetectModerationLabels") == 1
    assert len(recognition_sleeps) == 1
    rekognition_stub.assert_no_pending_responses()
    assert Label.objects.count() == 4 and Photo.objects.get().status == Photo.Status.RECOGNISED
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)] and Tweet.objects.get().status == Tweet.Status.DONE


def test_without_aws_credentials_the_tweet_fails_in_plain_words_and_nothing_is_posted(
    deliver, fake_x, media_server, recognition_sleeps, monkeypatch
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", *AWS_ENV_TO_CLEAR):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
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


# --- Twice, and workers that die ---------------------------------------------------------


def test_the_same_delivery_twice_is_processed_and_answered_once(
    deliver, fake_x, media_server, rekognition_stub, rekognition_calls
):
    urls = [serve_jpeg(media_server, f"p{i}.jpg", color=c)[0] for i, c in enumerate(("red", "blue"))]
    for _ in urls:
        stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=urls)

    deliver(post)
    deliver(post)

    assert Delivery.objects.count() == 2 and Tweet.objects.count() == 1 and Reply.objects.count() == 1
    assert count(rekognition_calls, "DetectLabels") == 2  # one per photo
    assert len(media_server.requests) == 2
    text = "Hi @ana. On your images, I can recognise: Dog, Pet, Animal, Mammal."
    assert fake_x.posts() == [reply_body(text, post)]
    assert Tweet.objects.get().attempts == 1
    rekognition_stub.assert_no_pending_responses()


def test_a_worker_dying_during_recognition_is_finished_by_the_sweeper_with_one_post(
    deliver, sweep, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch, caplog
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_detect = recognition.detect

    def dies_once(image, **kwargs):
        monkeypatch.setattr(recognition, "detect", real_detect)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(recognition, "detect", dies_once)
    post = payloads.tweet(urls=[url])

    deliver(post)  # still answered 200: the crash is logged and the rows keep the work

    assert "worker killed" in caplog.text

    tweet, photo = Tweet.objects.get(), Photo.objects.get()
    assert (tweet.status, tweet.last_error) == (Tweet.Status.PROCESSING, "RuntimeError: worker killed")
    assert photo.status == Photo.Status.RECOGNISING and rekognition_calls == [] and fake_x.requests == []

    age(tweet)
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    tweet.refresh_from_db()
    assert (tweet.status, tweet.last_error, tweet.attempts) == (Tweet.Status.DONE, "", 2)
    assert Photo.objects.get().status == Photo.Status.RECOGNISED
    assert count(rekognition_calls, "DetectLabels") == 1
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert len(media_server.requests) == 1  # the stored photo was used, not fetched again
    rekognition_stub.assert_no_pending_responses()


@pytest.mark.parametrize("x_got_it", [False, True], ids=["before-x-was-called", "after-x-posted-it"])
def test_a_reply_left_posting_by_a_dead_worker_is_posted_exactly_once(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch, x_got_it, caplog
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_post_reply = x_api.post_reply

    def dies(text, *, in_reply_to_tweet_id):
        monkeypatch.setattr(x_api, "post_reply", real_post_reply)
        if x_got_it:
            real_post_reply(text, in_reply_to_tweet_id=in_reply_to_tweet_id)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(x_api, "post_reply", dies)
    post = payloads.tweet(urls=[url])

    deliver(post)  # still answered 200: the crash is logged and the rows keep the work

    assert "worker killed" in caplog.text

    assert Reply.objects.get().status == Reply.Status.POSTING
    assert len(fake_x.posts()) == (1 if x_got_it else 0)

    age(Tweet.objects.get())
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    reply, tweet = Reply.objects.get(), Tweet.objects.get()
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]
    assert (reply.status, reply.attempts) == (Reply.Status.POSTED, 2)
    assert tweet.status == Tweet.Status.DONE and stored_files() == []
    assert reply.x_id.isdigit() and reply.last_error == ""  # X's own id, also when found on the timeline


def test_the_sweeper_gives_up_after_the_maximum_attempts_with_the_last_error(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(3):
        fake_x.queue("POST", "/2/tweets", 500)

    deliver(payloads.tweet(urls=[url]))
    tweet = Tweet.objects.get()
    age(tweet)
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}
    tweet.refresh_from_db()
    assert (tweet.status, tweet.attempts) == (Tweet.Status.PROCESSING, 2)
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 1, "photos_deleted": 0}

    tweet.refresh_from_db()
    assert tweet.status == Tweet.Status.FAILED
    assert tweet.last_error == f"gave up after 2 attempts: reply: {X_ERROR_500}"
    assert len(fake_x.calls("POST", "/2/tweets")) == 2 and fake_x.posts() == []
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}
    assert len(fake_x.calls("POST", "/2/tweets")) == 2


def test_a_tweet_the_sweeper_gave_up_on_keeps_no_stored_photos(
    deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 500)

    deliver(payloads.tweet(urls=[url]))
    age(Tweet.objects.get())
    assert sweep() == {"redispatched": 0, "failed": 1, "photos_deleted": 0}

    assert Tweet.objects.get().status == Tweet.Status.FAILED
    assert stored_files() == [] and Photo.objects.get().file.name == ""


# --- Dry run, deletions, long replies ------------------------------------------------------


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


def test_a_post_deleted_before_the_reply_gets_no_reply_and_loses_its_stored_photos(
    deliver, sweep, fake_x, media_server, rekognition_stub
):
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


def test_the_sweeper_removes_photos_a_failed_clean_up_left_behind(deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_delete = services.settling.tweet_photos_delete
    monkeypatch.setattr(services.settling, "tweet_photos_delete", lambda tweet_pk: 0)  # storage refusing deletes
    post = payloads.tweet(urls=[url])
    deliver(post)
    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.DONE and len(stored_files()) == 1
    monkeypatch.setattr(services.settling, "tweet_photos_delete", real_delete)  # storage working again

    assert sweep()["photos_deleted"] == 0  # not before the sweep delay
    age(tweet)
    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 1}
    assert stored_files() == [] and Photo.objects.get().file.name == ""
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]  # nothing else was done again


def test_photos_kept_on_purpose_stay_when_keeping_is_turned_off_later(deliver, sweep, fake_x, media_server, rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "true")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    deliver(payloads.tweet(urls=[url]))
    assert Tweet.objects.get().status == Tweet.Status.DONE and len(stored_files()) == 1

    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "false")
    age(Tweet.objects.get())

    assert sweep()["photos_deleted"] == 0
    assert len(stored_files()) == 1  # only clean-ups that failed are finished by the sweeper


def test_a_long_list_of_wide_labels_still_fits_in_one_post(
    deliver, fake_x, media_server, rekognition_stub, monkeypatch
):
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


def test_two_posts_with_the_same_content_from_one_author_both_get_a_reply(
    deliver, fake_x, media_server, rekognition_stub
):
    url, _ = serve_jpeg(media_server)
    first, second = payloads.tweet(urls=[url]), payloads.tweet(urls=[url])
    stub_detection(rekognition_stub, labels=DOG)
    stub_detection(rekognition_stub, labels=DOG)

    deliver(first)
    deliver(second)

    assert len(fake_x.posts()) == 2
    assert list(Reply.objects.values_list("status", flat=True)) == [Reply.Status.POSTED] * 2


def test_a_duplicate_refusal_is_not_taken_for_a_post_that_never_reached_x(
    deliver, sweep, fake_x, media_server, rekognition_stub
):
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


# --- What the review found: no second reply, no lost post ------------------------------


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
    fake_x._texts.clear()  # X's duplicate window has passed since
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


def test_the_sweeper_leaves_a_step_claimed_recently_to_its_worker(
    deliver, sweep, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch
):
    # A recognition claimed just now (say, by a late S3 event's worker) on a post whose
    # own row has not changed for a while: the sweeper must not hand it to a second worker.
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    real_detect = recognition.detect

    def still_running(image, **kwargs):  # leaves the photo claimed, as a worker mid-call does
        raise RuntimeError("still running")

    monkeypatch.setattr(recognition, "detect", still_running)
    post = payloads.tweet(urls=[url])
    deliver(post)
    photo, tweet = Photo.objects.get(), Tweet.objects.get()
    assert photo.status == Photo.Status.RECOGNISING
    Tweet.objects.filter(pk=tweet.pk).update(updated_at=timezone.now() - timedelta(hours=1))  # only the post looks old
    monkeypatch.setattr(recognition, "detect", real_detect)

    sweep()

    photo.refresh_from_db()
    assert photo.status == Photo.Status.RECOGNISING and rekognition_calls == []  # left to its worker
    assert fake_x.posts() == []

    age(Tweet.objects.get())  # now the claim is old too: its worker is gone
    sweep()

    assert count(rekognition_calls, "DetectLabels") == 1
    assert fake_x.posts() == [reply_body(DOG_REPLY, post)]


def test_a_photo_that_keeps_failing_is_given_up_on_the_last_attempt_and_the_others_answered(
    deliver, sweep, fake_x, media_server, rekognition_stub, rekognition_calls, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "2")
    good, _ = serve_jpeg(media_server)
    bad = media_server.route("/busy.jpg", b"try later", status=503, content_type="text/plain")
    stub_detection(rekognition_stub, labels=DOG)
    post = payloads.tweet(urls=[good, bad])

    deliver(post)

    photos = list(Photo.objects.order_by("position"))
    assert [photo.status for photo in photos] == [Photo.Status.RECOGNISED, Photo.Status.PENDING]  # the good one went on
    assert fake_x.posts() == []

    age(Tweet.objects.get())
    sweep()  # the last attempt

    photos = list(Photo.objects.order_by("position"))
    assert photos[1].status == Photo.Status.FAILED and photos[1].last_error == f"gave up: HTTP 503 for {bad}"
    (sent,) = fake_x.posts()
    assert sent["reply"]["in_reply_to_tweet_id"] == post["id_str"] and "Dog" in sent["text"]
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert count(rekognition_calls, "DetectLabels") == 1  # the good photo, once


def test_a_spent_daily_cap_waits_for_its_reset_without_using_up_attempts(
    deliver, sweep, fake_x, media_server, rekognition_stub, x_waits
):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    reset_in = 20_000
    fake_x.queue("POST", "/2/tweets", 429, headers={
        "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(time.time()) + reset_in),
    })
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


def test_short_rate_limits_that_never_end_use_up_attempts_and_the_post_fails(
    deliver, sweep, fake_x, media_server, rekognition_stub, x_waits, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    for _ in range(3):  # each within IMAGEBOT_X_MAX_RATE_LIMIT_WAIT: waited for, not free
        fake_x.queue("POST", "/2/tweets", 429, headers={
            "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 5),
        })

    deliver(payloads.tweet(urls=[url]))
    tweet = Tweet.objects.get()
    assert tweet.attempts == 1 and tweet.not_before is None
    age(tweet)
    sweep()
    age(tweet)
    assert sweep()["failed"] == 1

    tweet.refresh_from_db()
    assert tweet.status == Tweet.Status.FAILED and "gave up after 2 attempts" in tweet.last_error
    assert fake_x.posts() == []


def test_a_daily_cap_is_waited_out_only_while_the_post_is_young(deliver, fake_x, media_server, rekognition_stub):
    url, _ = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG)
    fake_x.queue("POST", "/2/tweets", 429, headers={
        "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(time.time()) + 30 * 3600),  # beyond any real window
    })
    post = payloads.tweet(urls=[url])
    deliver(post)
    tweet = Tweet.objects.get()
    assert tweet.attempts == 0
    assert (tweet.not_before - timezone.now()) <= services.replying.MAX_RATE_LIMIT_WAIT  # clamped

    Tweet.objects.filter(pk=tweet.pk).update(
        status=Tweet.Status.RECEIVED, received_at=timezone.now() - services.replying.RATE_LIMIT_PATIENCE - timedelta(minutes=1)
    )
    Reply.objects.update(status=Reply.Status.PENDING)
    fake_x.queue("POST", "/2/tweets", 429, headers={
        "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(time.time()) + 20_000),
    })
    services.tweet_process(tweet.pk)

    assert Tweet.objects.get().attempts == 1  # an old post's rounds count like any other


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


def test_repeated_mentions_without_a_photo_each_get_their_own_wording(deliver, fake_x):
    # X refuses a text the account posted recently; each fixed text has other wordings.
    posts = [payloads.tweet(photos=0) for _ in range(5)]
    for minute, post in enumerate(posts[:4]):
        post["created_at"] = f"Wed Nov 25 10:{minute:02d}:30 +0000 2026"
    posts[4]["created_at"] = posts[3]["created_at"]  # so even the last wording repeats

    for post in posts:
        deliver(post)

    answered = [body["reply"]["in_reply_to_tweet_id"] for body in fake_x.posts()]
    assert answered == [post["id_str"] for post in posts[:4]]
    texts = [body["text"] for body in fake_x.posts()]
    assert texts[0] == NO_PHOTO_REPLY and len(set(texts)) == 4
    assert "10:03:30" in texts[3]  # the last wording names the post
    last = Reply.objects.get(tweet__x_id=posts[4]["id_str"])
    assert last.status == Reply.Status.FAILED and "every wording already answered other posts" in last.last_error
    assert [reply.variant for reply in Reply.objects.order_by("tweet__received_at", "tweet__pk")] == [0, 1, 2, 2, 2]
