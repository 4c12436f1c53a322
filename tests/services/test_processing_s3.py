"""bot.services.processing with photos in S3 (moto's server): webhook → fetch → S3 → Rekognition → reply.

Outside boundaries are real servers or real clients: the local media server, the fake X
server (OAuth 1.0a and OpenAPI checked), moto's S3 server behind django-storages, and a
botocore Stubber on a real Rekognition client (it checks every request against the API
model, and `expected_params` checks that Rekognition is pointed at the S3 object).
Work is dispatched inline.

S3 ObjectCreated notifications, built from the object moto holds, go through Zappa's
lambda_handler to bot.tasks.s3_photo_created, which calls processing.photo_recognise_stored.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from bot import recognition
from bot.models import Label, Photo, Reply, Tweet
from tests.fixtures.aws import stub_detection
from tests.fixtures.media_server import make_image_bytes, serve_mention
from tests.fixtures.pipeline import DOG, age

pytestmark = pytest.mark.django_db

# --- Helpers --------------------------------------------------------------------------


@pytest.fixture
def pipeline(deliver, s3_server, media_server, fake_x, rekognition_stub, django_capture_on_commit_callbacks, monkeypatch):
    """Everything a mention goes through, with S3 events off unless a test turns them on.

    deliver (through post_signed) comes before fake_x: both set X_CONSUMER_*, and fake_x's must win.
    """
    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "0")
    return Pipeline(s3_server, media_server, fake_x, rekognition_stub, deliver, django_capture_on_commit_callbacks)


class Pipeline:
    def __init__(self, s3, media, x, stubber, deliver, capture) -> None:
        self.s3, self.media, self.x, self.stubber = s3, media, x, stubber
        self.deliver, self._capture = deliver, capture  # deliver(post): the shared fixture
        self.calls: list[dict] = []  # every Rekognition call: operation, Image, and what the bucket held then
        stubber.client.meta.events.register("before-parameter-build.rekognition.*", self._record_call)

    def _record_call(self, params, model, **_) -> None:
        image = params.get("Image", {})
        name = image.get("S3Object", {}).get("Name")
        keys = self.s3.keys()
        self.calls.append(
            {"operation": model.name, "image": image, "bucket_keys": keys, "object": self.s3.body(name) if name in keys else None}
        )

    def operations(self) -> list[str]:
        return [call["operation"] for call in self.calls]

    def mention(self, photos: int = 1) -> tuple[dict, list[bytes]]:
        return serve_mention(self.media, photos)

    def expect_recognition(self, key: str, labels: dict = DOG) -> None:
        stub_detection(self.stubber, labels=labels, image={"S3Object": {"Bucket": self.s3.name, "Name": key}})

    def run(self, function, *args):
        with self._capture(execute=True):
            return function(*args)


@pytest.fixture
def deliver_event(pipeline, lambda_handler):
    """Deliver one S3 notification the way Lambda does."""
    return lambda event: pipeline.run(lambda_handler, event)


def key_of(post: dict, position: int = 0) -> str:
    return f"photos/{post['id_str']}/{position}.jpg"


# --- The boundaries are the ones we think ---------------------------------------------


def test_photos_really_go_to_the_moto_bucket_and_rekognition_does_not(s3_server, fake_aws_env):
    default_storage.save("probe/hello.txt", ContentFile(b"hello"))

    assert s3_server.keys() == ["probe/hello.txt"]
    assert s3_server.body("probe/hello.txt") == b"hello"
    assert recognition.rekognition_client().meta.endpoint_url == "https://rekognition.us-east-1.amazonaws.com"


# --- S3 events off: recognised right after storing ---------------------------------------


def test_without_s3_events_the_photo_is_stored_in_s3_recognised_there_replied_to_and_deleted(pipeline):
    post, [image] = pipeline.mention()
    key = key_of(post)
    pipeline.expect_recognition(key)

    pipeline.deliver(post)

    pipeline.stubber.assert_no_pending_responses()
    assert pipeline.operations() == ["DetectLabels", "DetectModerationLabels"]
    assert pipeline.calls[0]["image"] == {"S3Object": {"Bucket": pipeline.s3.name, "Name": key}}
    assert pipeline.calls[0]["bucket_keys"] == [key]  # in S3 while Rekognition read it
    assert pipeline.calls[0]["object"] == image
    [reply] = pipeline.x.posts()
    assert reply["reply"] == {"in_reply_to_tweet_id": post["id_str"]}
    assert "Dog" in reply["text"]
    assert pipeline.s3.keys() == []  # retention default: deleted once the reply settled
    tweet = Tweet.objects.get(x_id=post["id_str"])
    assert tweet.status == Tweet.Status.DONE
    photo = tweet.photos.get()
    assert (photo.status, photo.file.name) == (Photo.Status.RECOGNISED, "")
    assert set(Label.objects.filter(photo=photo).values_list("name", flat=True)) == {"Dog", "Pet", "Animal", "Mammal"}
    assert tweet.reply.status == Reply.Status.POSTED


def test_with_keep_photos_the_object_stays_in_the_bucket(pipeline, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "1")
    post, [image] = pipeline.mention()
    key = key_of(post)
    pipeline.expect_recognition(key)

    pipeline.deliver(post)

    pipeline.stubber.assert_no_pending_responses()
    assert len(pipeline.x.posts()) == 1
    assert pipeline.s3.keys() == [key]
    assert pipeline.s3.body(key) == image
    assert Photo.objects.get(tweet__x_id=post["id_str"]).file.name == key


# --- S3 events on: the stored object triggers recognition -------------------------------


@pytest.fixture
def s3_events(pipeline, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "1")
    return pipeline


def test_with_s3_events_processing_stores_the_photo_and_the_event_recognises_it(s3_events, deliver_event):
    post, [image] = s3_events.mention()
    key = key_of(post)

    s3_events.deliver(post)

    assert s3_events.calls == []
    assert s3_events.s3.keys() == [key]
    assert s3_events.s3.body(key) == image
    assert s3_events.x.posts() == []
    tweet = Tweet.objects.get(x_id=post["id_str"])
    assert tweet.status == Tweet.Status.PROCESSING
    assert tweet.photos.get().status == Photo.Status.STORED

    s3_events.expect_recognition(key)
    deliver_event(s3_events.s3.event(key))

    s3_events.stubber.assert_no_pending_responses()
    assert s3_events.operations() == ["DetectLabels", "DetectModerationLabels"]
    [reply] = s3_events.x.posts()
    assert reply["reply"] == {"in_reply_to_tweet_id": post["id_str"]}
    assert "Dog" in reply["text"]
    assert s3_events.s3.keys() == []
    tweet.refresh_from_db()
    assert tweet.status == Tweet.Status.DONE


@pytest.mark.parametrize("keep_photos", ["0", "1"], ids=["photos-deleted", "photos-kept"])
def test_the_same_event_delivered_twice_recognises_once_and_replies_once(s3_events, deliver_event, monkeypatch, keep_photos):
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", keep_photos)
    post, _ = s3_events.mention()
    key = key_of(post)
    s3_events.deliver(post)
    event = s3_events.s3.event(key)
    s3_events.expect_recognition(key)

    first, second = deliver_event(event), deliver_event(event)

    assert (first["recognised"], second["recognised"], second["unchanged"]) == (1, 0, 1)
    s3_events.stubber.assert_no_pending_responses()
    assert s3_events.operations() == ["DetectLabels", "DetectModerationLabels"]
    assert len(s3_events.x.posts()) == 1
    assert Tweet.objects.get(x_id=post["id_str"]).status == Tweet.Status.DONE


def test_four_photos_with_repeated_events_cost_one_detection_each_and_one_reply(s3_events, deliver_event):
    post, _ = s3_events.mention(photos=4)
    s3_events.deliver(post)
    events = {position: s3_events.s3.event(key_of(post, position)) for position in range(4)}
    assert s3_events.s3.keys() == sorted(key_of(post, position) for position in range(4))
    order = [0, 1, 1, 2, 0, 3, 3, 2]
    for position in dict.fromkeys(order):  # first occurrences, in order: the Stubber's queue
        s3_events.expect_recognition(key_of(post, position))

    for position in order:
        deliver_event(events[position])

    s3_events.stubber.assert_no_pending_responses()
    assert s3_events.operations().count("DetectLabels") == 4
    assert s3_events.operations().count("DetectModerationLabels") == 4
    assert [call["image"]["S3Object"]["Name"] for call in s3_events.calls[::2]] == [key_of(post, p) for p in (0, 1, 2, 3)]
    assert len(s3_events.x.posts()) == 1
    assert s3_events.s3.keys() == []


@pytest.mark.parametrize("key", ["uploads/elsewhere.jpg", "photos/1999999999999999999/0.jpg"], ids=["outside-photos", "unknown-key"])
def test_an_event_for_a_key_that_is_not_one_of_our_photos_changes_nothing(s3_events, deliver_event, key):
    post, _ = s3_events.mention()
    s3_events.deliver(post)
    s3_events.s3.client.put_object(Bucket=s3_events.s3.name, Key=key, Body=make_image_bytes())
    before = list(Photo.objects.values_list("pk", "status", "file"))

    summary = deliver_event(s3_events.s3.event(key))

    assert summary["recognised"] == summary["failed"] == 0
    assert s3_events.calls == []
    assert s3_events.x.posts() == []
    assert list(Photo.objects.values_list("pk", "status", "file")) == before
    assert Tweet.objects.get(x_id=post["id_str"]).status == Tweet.Status.PROCESSING
    assert Reply.objects.count() == 0


def test_a_url_encoded_key_in_the_event_is_decoded(s3_events, deliver_event):
    post, _ = s3_events.mention()
    key = key_of(post)
    s3_events.deliver(post)
    event = s3_events.s3.event(key, quote=lambda key: quote_plus(key, safe=""))
    assert event["Records"][0]["s3"]["object"]["key"] == key.replace("/", "%2F")
    s3_events.expect_recognition(key)

    assert deliver_event(event)["recognised"] == 1

    s3_events.stubber.assert_no_pending_responses()
    assert len(s3_events.x.posts()) == 1


# --- S3 events on, but the event never comes: the sweeper falls back ---------------------


def test_when_the_s3_event_never_comes_the_sweeper_has_the_photo_recognised_directly(s3_events, deliver_event, sweep):
    post, _ = s3_events.mention()
    key = key_of(post)
    s3_events.deliver(post)
    late_event = s3_events.s3.event(key)
    tweet = Tweet.objects.get(x_id=post["id_str"])

    assert sweep() == {"redispatched": 0, "failed": 0, "photos_deleted": 0}  # not stuck yet
    assert s3_events.calls == []

    age(tweet)
    s3_events.expect_recognition(key)
    assert sweep() == {"redispatched": 1, "failed": 0, "photos_deleted": 0}

    s3_events.stubber.assert_no_pending_responses()
    assert s3_events.operations() == ["DetectLabels", "DetectModerationLabels"]
    assert s3_events.calls[0]["image"] == {"S3Object": {"Bucket": s3_events.s3.name, "Name": key}}
    assert len(s3_events.x.posts()) == 1
    tweet.refresh_from_db()
    assert (tweet.status, tweet.attempts) == (Tweet.Status.DONE, 2)
    assert s3_events.s3.keys() == []

    assert deliver_event(late_event)["recognised"] == 0  # the event turns up after all: nothing left to do

    assert len(s3_events.calls) == 2
    assert len(s3_events.x.posts()) == 1


# --- A worker that stopped half-way ------------------------------------------------------


class WorkerKilled(BaseException):
    """A Lambda timeout: the process stops where it is, no except clause runs."""


def test_a_photo_whose_object_was_never_written_is_fetched_again_on_the_retry(pipeline, sweep, monkeypatch):
    post, [image] = pipeline.mention()
    key = key_of(post)

    def killed(name, content, max_length=None):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(default_storage, "save", killed)
        with pytest.raises(WorkerKilled):
            pipeline.deliver(post)
    tweet = Tweet.objects.get(x_id=post["id_str"])
    assert (tweet.status, tweet.photos.get().status, pipeline.s3.keys()) == (Tweet.Status.PROCESSING, Photo.Status.STORED, [])

    # What Rekognition answers for a missing object, then its answers once the photo is there.
    pipeline.stubber.add_client_error(
        "detect_labels",
        "InvalidS3ObjectException",
        "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
        400,
        expected_params={"Image": {"S3Object": {"Bucket": pipeline.s3.name, "Name": key}}, "MaxLabels": 5, "MinConfidence": 85.0},
    )
    pipeline.expect_recognition(key)
    for _ in range(3):  # the sweeper's next rounds
        age(tweet)
        sweep()

    tweet.refresh_from_db()
    photo = tweet.photos.get()
    assert photo.status == Photo.Status.RECOGNISED, photo.last_error
    assert len(pipeline.media.paths) == 2  # fetched again
    assert pipeline.calls[-2]["object"] == image  # and Rekognition read the object written this time
    [reply] = pipeline.x.posts()
    assert "Dog" in reply["text"]
    assert tweet.status == Tweet.Status.DONE


def test_with_moto_in_process_the_photo_is_stored_recognised_and_replied_to_the_same_way(
    s3_in_process, media_server, fake_x, rekognition_stub, deliver, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "0")
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "1")
    pipeline = Pipeline(s3_in_process, media_server, fake_x, rekognition_stub, deliver, django_capture_on_commit_callbacks)
    post, [image] = pipeline.mention()
    pipeline.expect_recognition(key_of(post))

    pipeline.deliver(post)

    pipeline.stubber.assert_no_pending_responses()
    assert s3_in_process.keys() == [key_of(post)] and s3_in_process.body(key_of(post)) == image
    tweet = Tweet.objects.get(x_id=post["id_str"])
    assert (tweet.status, tweet.last_error, tweet.reply.status, tweet.reply.last_error) == (Tweet.Status.DONE, "", Reply.Status.POSTED, "")
    assert [body["reply"]["in_reply_to_tweet_id"] for body in fake_x.posts()] == [post["id_str"]]
