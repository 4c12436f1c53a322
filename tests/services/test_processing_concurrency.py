"""bot.services.processing and sweeping under real concurrency, on PostgreSQL (skipped on other databases).

Copies of one mention, sweepers and late workers race from threads, each with its own
database connection, and work is dispatched inline (each request's on-commit dispatch runs
in its own thread). Outside calls are counted where they land: the media server's and
the fake X server's own request records, and a thread-safe stand-in for the Rekognition
client (botocore's Stubber is not thread-safe) that checks every request against
Rekognition's real API model.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from datetime import timedelta

import boto3
import pytest
from botocore.validate import validate_parameters
from django.utils import timezone

from bot import conf, dispatch, recognition, services
from bot.events import samples as payloads
from bot.models import Delivery, Photo, Reply, Tweet
from tests.fixtures.aws import labels_response, moderation_response
from tests.fixtures.media_server import serve_mention
from tests.fixtures.racing import POSTGRES_ONLY, race
from tests.fixtures.webhook import encode, webhook_post

pytestmark = POSTGRES_ONLY

PHOTOS = 4


class CountingRekognition:
    """A Rekognition client for many threads: validates, records and answers each call.

    `delay` holds every call open a moment, so that racing workers overlap.
    """

    def __init__(self, *, delay: float = 0.02) -> None:
        model_client = boto3.session.Session().client("rekognition", region_name="us-east-1")
        self._model = model_client.meta.service_model
        self._lock = threading.Lock()
        self.delay = delay
        self.calls: list[tuple[str, dict]] = []

    def _call(self, operation: str, params: dict, answer: dict) -> dict:
        validate_parameters(params, self._model.operation_model(operation).input_shape)  # raises on a bad request
        with self._lock:
            self.calls.append((operation, params))
        time.sleep(self.delay)
        return copy.deepcopy(answer)

    def detect_labels(self, **params) -> dict:
        return self._call("DetectLabels", params, labels_response(("Dog", 99.1, ("Animal", "Pet")), ("Animal", 99.1)))

    def detect_moderation_labels(self, **params) -> dict:
        return self._call("DetectModerationLabels", params, moderation_response())

    def counts(self) -> Counter:
        with self._lock:
            return Counter(operation for operation, _ in self.calls)

    def images(self, operation: str) -> list[bytes]:
        with self._lock:
            return [params["Image"]["Bytes"] for name, params in self.calls if name == operation]


@pytest.fixture
def rekognition(fake_aws_env, monkeypatch) -> CountingRekognition:
    client = CountingRekognition()
    monkeypatch.setattr(recognition, "rekognition_client", lambda: client)
    return client


@pytest.fixture
def dispatches(monkeypatch) -> list[tuple[str, int]]:
    """Every dispatch, recorded from any thread, then run as configured (inline)."""
    real, seen, lock = dispatch.dispatch, [], threading.Lock()

    def recording(job: str, tweet_pk: int) -> None:
        with lock:
            seen.append((job, tweet_pk))
        real(job, tweet_pk)

    monkeypatch.setattr(dispatch, "dispatch", recording)
    return seen


@pytest.fixture
def mention(consumer_secret, fake_x, media_server, rekognition):
    """A mention with PHOTOS distinct photos on the media server; consumer_secret before fake_x so fake_x's keys win."""
    return serve_mention(media_server, PHOTOS)


def assert_processed_once(tweet_id: str, images: list[bytes], rekognition, fake_x, media_server) -> None:
    tweet = Tweet.objects.get(x_id=tweet_id)
    assert tweet.status == Tweet.Status.DONE, tweet.last_error
    assert rekognition.counts() == {"DetectLabels": PHOTOS, "DetectModerationLabels": PHOTOS}
    assert sorted(rekognition.images("DetectLabels")) == sorted(images)  # each photo once
    assert sorted(media_server.paths) == sorted(f"/media/{tweet_id}-{i}.jpg" for i in range(PHOTOS))
    [post] = fake_x.posts()
    assert post["reply"] == {"in_reply_to_tweet_id": tweet_id}
    assert len(fake_x.calls("POST", "/2/tweets")) == 1
    assert Reply.objects.get().status == Reply.Status.POSTED
    assert set(tweet.photos.values_list("status", flat=True)) == {Photo.Status.RECOGNISED}


# --- Duplicate deliveries -------------------------------------------------------------


def test_twenty_copies_of_a_mention_at_once_are_recognised_once_and_replied_to_once(mention, rekognition, fake_x, media_server, dispatches):
    post, images = mention
    body = encode(payloads.delivery(post))

    statuses = race(*[webhook_post(body)] * 20)

    assert statuses == [200] * 20
    assert Delivery.objects.count() == 20
    assert Tweet.objects.count() == 1
    assert dispatches == [(services.tweet_process, Tweet.objects.get().pk)]
    assert_processed_once(post["id_str"], images, rekognition, fake_x, media_server)


# --- The sweeper racing ---------------------------------------------------------------


def stuck(post: dict, status: str, *, attempts: int, monkeypatch) -> Tweet:
    """The mention recorded but never processed (its dispatch went nowhere), then aged past the sweep interval."""
    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "dispatch", lambda job, tweet_pk: None)
        assert webhook_post(encode(payloads.delivery(post)))() == 200
    tweet = Tweet.objects.get(x_id=post["id_str"])
    long_ago = timezone.now() - timedelta(seconds=conf.sweep_after_seconds() + 60)
    Tweet.objects.filter(pk=tweet.pk).update(status=status, attempts=attempts, updated_at=long_ago)
    return tweet


def test_sweepers_racing_on_a_stuck_tweet_dispatch_it_once(mention, rekognition, fake_x, media_server, dispatches, monkeypatch):
    post, images = mention
    tweet = stuck(post, Tweet.Status.PROCESSING, attempts=1, monkeypatch=monkeypatch)  # its worker died

    results = race(*[services.sweep] * 8)

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sum(r["redispatched"] for r in results) == 1
    assert sum(r["failed"] for r in results) == 0
    assert dispatches == [(services.tweet_process, tweet.pk)]
    assert_processed_once(post["id_str"], images, rekognition, fake_x, media_server)
    tweet.refresh_from_db()
    assert tweet.attempts == 2


def test_sweepers_racing_with_a_late_worker_process_the_tweet_once(mention, rekognition, fake_x, media_server, dispatches, monkeypatch):
    post, images = mention
    tweet = stuck(post, Tweet.Status.RECEIVED, attempts=0, monkeypatch=monkeypatch)  # its dispatch is late, not lost

    results = race(*[services.sweep] * 6, *[lambda: dispatch.run_job("tweet_process", tweet.pk)] * 2)

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sum(r["redispatched"] for r in results[:6]) <= 1
    assert_processed_once(post["id_str"], images, rekognition, fake_x, media_server)
    tweet.refresh_from_db()
    assert tweet.attempts == 1  # claimed once, whoever won


# --- S3 events arriving at once (Lambda runs them concurrently, at least once each) ------


def test_every_photo_event_delivered_twice_at_once_costs_one_detection_per_photo_and_one_reply(
    mention, rekognition, fake_x, media_server, s3_server, lambda_handler, monkeypatch
):
    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "1")
    post, _images = mention
    assert webhook_post(encode(payloads.delivery(post)))() == 200
    keys = [f"photos/{post['id_str']}/{position}.jpg" for position in range(PHOTOS)]
    assert s3_server.keys() == keys
    assert rekognition.calls == []  # processing stored the photos and left recognition to the events
    events = [s3_server.event(key) for key in keys]

    results = race(*[lambda event=event: lambda_handler(event) for event in events * 2])

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sum(r["recognised"] for r in results) == PHOTOS
    assert sum(r["failed"] for r in results) == 0
    assert rekognition.counts() == {"DetectLabels": PHOTOS, "DetectModerationLabels": PHOTOS}
    assert sorted(params["Image"]["S3Object"]["Name"] for name, params in rekognition.calls if name == "DetectLabels") == keys
    assert len(fake_x.calls("POST", "/2/tweets")) == 1
    assert Tweet.objects.get().status == Tweet.Status.DONE
    assert s3_server.keys() == []
