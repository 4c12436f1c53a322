"""Per-tweet cost of the whole pipeline, in-process: webhook → fetch → store → recognise → reply.

Each mention is POSTed to the webhook with dispatch inline, so the request returns once
the tweet is settled; its duration is the tweet's processing time. The outside world is
the test suite's own: the media server (tests.fixtures.media_server), the fake X server
(OAuth 1.0a and OpenAPI checks, tests.fixtures.fake_x) and a botocore Stubber on a real
Rekognition client (tests.fixtures.aws). Photos go to a temporary media folder.

Prints JSON: median and p95 milliseconds per tweet for 1 and 4 photos, and the outside
calls per tweet, counted from the servers' own request records (Rekognition: the client's
requests, which the Stubber answers one queued answer each): DetectLabels and
DetectModerationLabels per photo, media GETs per photo, X POSTs per reply. Each must be
exactly 1 for every tweet; the script exits 1 otherwise. Also the median number of
database queries per tweet, which does not depend on the machine's speed.
Run: .venv/bin/python bench/pipeline.py [--tweets N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from common import configure, database

WORKDIR = configure(IMAGEBOT_S3_EVENTS="false", IMAGEBOT_RECOGNISER="rekognition")  # the Stubber answers

from tests.fixtures import (
    aws as aws_fixtures,
    fake_x as fake_x_fixtures,
)

for name in ("AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "X_DRY_RUN"):
    os.environ.pop(name, None)
for name, value in aws_fixtures.fake_aws_environ().items():
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
os.environ["IMAGEBOT_MEDIA_ROOT"] = f"{WORKDIR}/media"

import django

django.setup()

from botocore.stub import Stubber
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bot import recognition
from bot.events import samples as payloads
from bot.models import Tweet
from tests.fixtures.media_server import MediaServer, serve_mention
from tests.fixtures.webhook import encode, sign

DOG = aws_fixtures.labels_response(("Dog", 99.1, ("Animal", "Pet")), ("Animal", 99.1), ("Pet", 97.0))


class Outside:
    """The fake X server, the media server and a stubbed Rekognition client, started as the fixtures start them."""

    def __init__(self) -> None:
        self._x_server = fake_x_fixtures.start_fake_x()
        self.x = self._x_server.fake
        os.environ.update(self._x_server.environ())

        self.media = MediaServer()
        self.media.start()
        os.environ.update(self.media.environ())

        client = recognition.rekognition_client()
        recognition.rekognition_client = lambda: client
        recognition.sleep = lambda seconds: None
        self.rekognition_calls = aws_fixtures.record_rekognition_calls(client)  # what the client sent, before the Stubber answers
        self.stubber = Stubber(client)
        self.stubber.activate()

    def stop(self) -> None:
        self.stubber.deactivate()
        self.media.stop()
        self._x_server.stop()

    def counts(self) -> dict[str, int]:
        return {
            "DetectLabels": len(self.rekognition_calls.named("DetectLabels")),
            "DetectModerationLabels": len(self.rekognition_calls.named("DetectModerationLabels")),
            "media_gets": sum(1 for request in self.media.requests if request.method == "GET"),
            "x_posts": len(self.x.calls("POST", "/2/tweets")),
        }


def run_case(outside: Outside, client: Client, photos: int, n: int, label: int) -> dict:
    timings: list[float] = []
    per_photo = {"DetectLabels": [], "DetectModerationLabels": [], "media_gets": []}
    x_posts: list[int] = []
    query_counts: list[int] = []
    done = 0
    for i in range(n):
        # A different author each time: X refuses the same text twice from one account, and replies start "Hi @author".
        tweet, _ = serve_mention(outside.media, photos, author_name=f"bench{label}x{i}")
        tweet_id = tweet["id_str"]
        body = encode(payloads.delivery(tweet))
        signature = sign(body, outside.x.consumer_secret)
        for _ in range(photos):
            aws_fixtures.stub_detection(outside.stubber, labels=DOG)
        before = outside.counts()

        connection.queries_log.clear()  # it keeps 9,000 queries at most, which would skew the count
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.generic(
                "POST", "/webhooks/x/", body, content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signature
            )
            timings.append((time.perf_counter() - start) * 1000)
        query_counts.append(len(queries))

        assert response.status_code == 200, response.status_code
        outside.media.wait_idle()
        outside.stubber.assert_no_pending_responses()
        after = outside.counts()
        for name in per_photo:
            per_photo[name].append((after[name] - before[name]) / photos)
        x_posts.append(after["x_posts"] - before["x_posts"])
        done += Tweet.objects.filter(x_id=tweet_id, status=Tweet.Status.DONE).count()
    timings.sort()

    def exact(values) -> float | None:
        """The per-tweet figure when every tweet had the same one; None (reported) when they differ."""
        return values[0] if len(set(values)) == 1 else None

    return {
        "case": f"{photos}_photo{'s' if photos > 1 else ''}",
        "tweets": n,
        "done": done,
        "median_ms": round(statistics.median(timings), 3),
        "p95_ms": round(timings[int(0.95 * (n - 1))], 3),
        "detect_labels_per_photo": exact(per_photo["DetectLabels"]),
        "detect_moderation_labels_per_photo": exact(per_photo["DetectModerationLabels"]),
        "media_gets_per_photo": exact(per_photo["media_gets"]),
        "x_posts_per_reply": exact(x_posts),
        "queries_per_tweet": statistics.median(query_counts),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tweets", type=int, default=200, help="tweets per photo count (default 200)")
    n = parser.parse_args().tweets
    with database():
        return run(n)


def run(n: int) -> int:
    outside = Outside()
    client = Client()
    try:
        run_case(outside, client, 1, min(10, n), label=0)  # warm-up: imports, first connections, template loading
        results = [run_case(outside, client, photos, n, label=photos) for photos in (1, 4)]
    finally:
        outside.stop()
    exact = all(
        result["done"] == result["tweets"]
        and [
            result[key]
            for key in ("detect_labels_per_photo", "detect_moderation_labels_per_photo", "media_gets_per_photo", "x_posts_per_reply")
        ]
        == [1, 1, 1, 1]
        for result in results
    )
    print(
        json.dumps(
            {
                "benchmark": "pipeline",
                "database": connection.vendor,
                "storage": "local media folder",
                "dispatch": "inline",
                "outside_calls_exactly_once": exact,
                "results": results,
            },
            indent=2,
        )
    )
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
