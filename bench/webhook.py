"""Per-request cost of the webhook, in-process, through the full middleware stack.

Prints JSON: median and p99 milliseconds and statements per request (SQLite) for a CRC GET, a
signed POST with one photo, with four photos, a redelivered POST, and a 404 baseline.
Dispatch is replaced by a counter: this measures the request path only.
Run: .venv/bin/python bench/webhook.py [--requests N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

from common import configure, database

configure(X_CONSUMER_SECRET="bench-secret")

import logging

import django

django.setup()
logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404 baseline is expected

from django.db import connection
from django.test import Client

from bot import dispatch
from bot.events import samples as payloads
from tests.fixtures.webhook import encode, sign


def measure(name: str, make_request, n: int, body_bytes: int = 0) -> dict:
    timings, statements = [], []
    for i in range(n):
        with statements_counted() as count:
            start = time.perf_counter()
            response = make_request(i)
            timings.append((time.perf_counter() - start) * 1000)
        statements.append(count[0])
        assert response.status_code in (200, 404), (name, response.status_code)
    timings.sort()
    return {
        "case": name,
        "requests": n,
        "body_bytes": body_bytes,
        "median_ms": round(statistics.median(timings), 3),
        "p99_ms": round(timings[int(0.99 * (n - 1))], 3),
        "statements_per_request": statistics.median(statements) if connection.vendor == "sqlite" else None,
    }


@contextlib.contextmanager
def statements_counted():
    """The statements SQLite runs meanwhile, BEGIN and COMMIT included, as the sqlite3 module
    sends them (its trace callback). Counted below Django: an execute_wrapper would see only
    Django's cursor, and watching it sends the webhook's transaction through atomic() (see
    bot.inserting.transaction_of_inserts). On PostgreSQL (psycopg2 has no such hook), not counted."""
    count = [0]
    if connection.vendor != "sqlite":
        yield count
        return
    connection.ensure_connection()
    connection.connection.set_trace_callback(lambda statement: count.__setitem__(0, count[0] + 1))
    try:
        yield count
    finally:
        if connection.connection is not None:
            connection.connection.set_trace_callback(None)


def signed_posts(client: Client, bodies: list[bytes]):
    """Request i: the webhook POST of bodies[i % len(bodies)], signed with the bench's secret."""
    signatures = [sign(body, "bench-secret") for body in bodies]
    return lambda i: client.generic(
        "POST",
        "/webhooks/x/",
        bodies[i % len(bodies)],
        content_type="application/json",
        HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signatures[i % len(bodies)],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    n = parser.parse_args().requests
    with database():
        run(n)


def run(n: int) -> None:
    dispatched = []
    dispatch.dispatch = lambda job, pk: dispatched.append(pk)
    client = Client()

    def post(bodies):
        return signed_posts(client, bodies)

    def fresh(photos):
        return [encode(payloads.delivery(payloads.tweet(photos=photos))) for _ in range(n)]

    one, four, again = fresh(1), fresh(4), [encode(payloads.delivery(payloads.tweet(photos=1)))]
    post(again)(0)
    results = [
        measure("baseline_404", lambda i: client.get("/no-such-page/"), n),
        measure("crc_get", lambda i: client.get("/webhooks/x/", {"crc_token": f"token-{i}"}), n),
        measure("post_1_photo", post(one), n, len(one[0])),
        measure("post_4_photos", post(four), n, len(four[0])),
        measure("post_redelivered", post(again), n, len(again[0])),
    ]
    print(json.dumps({"benchmark": "webhook", "database": connection.vendor, "dispatched": len(dispatched), "results": results}, indent=2))


if __name__ == "__main__":
    main()
