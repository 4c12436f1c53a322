"""Per-request cost of X Activity deliveries at the webhook, beside Account Activity's.

Prints JSON: median and p99 milliseconds and queries per request for a signed XAA
mention (its photo named by media key only), the same post by Account Activity, an XAA
redelivery of a post already recorded, and parsing alone (no request, no database).
Dispatch is replaced by a counter: this measures the request path only (hydration runs
later, in processing).
Run: .venv/bin/python bench/activity.py [--requests N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import database
from django.db import connection
from django.test import Client
from webhook import measure, signed_posts  # configures the bench settings and Django

from bot import dispatch
from bot.events import parse_delivery, samples as payloads
from tests.fixtures.webhook import encode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    n = parser.parse_args().requests
    with database():
        run(n)


def run(n: int) -> None:
    dispatched: list[int] = []
    dispatch.dispatch = lambda job, pk: dispatched.append(pk)
    client = Client()

    def post(bodies):
        return signed_posts(client, bodies)

    xaa = [encode(payloads.activity_delivery(payloads.v2_post())) for _ in range(n)]
    aa = [encode(payloads.delivery(payloads.tweet())) for _ in range(n)]
    again = [encode(payloads.activity_delivery(payloads.v2_post()))]
    post(again)(0)
    parsed = [payloads.activity_delivery(payloads.v2_post(photos=4)) for _ in range(200)]
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for payload in parsed:
            parse_delivery(payload, bot_user_id=payloads.BOT_ID)
        timings.append((time.perf_counter() - start) / len(parsed) * 1e6)
    results = [
        measure("post_xaa_mention", post(xaa), n, len(xaa[0])),
        measure("post_aa_mention", post(aa), n, len(aa[0])),
        measure("post_xaa_redelivered", post(again), n, len(again[0])),
    ]
    print(
        json.dumps(
            {
                "benchmark": "activity",
                "database": connection.vendor,
                "dispatched": len(dispatched),
                "parse_xaa_4_photos_median_us": round(statistics.median(timings), 1),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
