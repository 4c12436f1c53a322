"""What the console's pages cost as the records grow: milliseconds and queries per page.

Prints JSON: for each record count (tweets with a photo, labels and a reply, spread over 30
days), the median milliseconds and the queries of the dashboard and of the tweet, photo,
reply and delivery change lists, logged in as a superuser, through the full middleware stack.
Run: .venv/bin/python bench/console.py [--sizes 100,1000,10000] [--requests 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import configure, database

configure()

import django

django.setup()

from datetime import timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from bot.models import Delivery, Label, Photo, Reply, Tweet

PAGES = {
    "dashboard": "/admin/dashboard/",
    "tweet_list": "/admin/bot/tweet/",
    "photo_list": "/admin/bot/photo/",
    "reply_list": "/admin/bot/reply/",
    "delivery_list": "/admin/bot/delivery/",
}


def grow_to(count: int) -> None:
    """Add tweets until there are `count`, each with a photo, two labels and a posted reply."""
    have = Tweet.objects.count()
    if have >= count:
        return
    now = timezone.now()
    delivery = Delivery.objects.create(body=b"{}", size=2, outcome="recorded")
    tweets = Tweet.objects.bulk_create(
        Tweet(
            x_id=str(1_900_000_000_000_000_000 + i),
            delivery=delivery,
            author_x_id="2",
            author_username=f"user{i}",
            text="@imagebot what is this?",
            status="failed" if i % 50 == 0 else "done",
            last_error="reply: 503 Service Unavailable" if i % 50 == 0 else "",
            mentions_bot=True,
        )
        for i in range(have, count)
    )
    for day in range(30):  # received_at is auto_now_add: spread over 30 days afterwards, one update a day
        Tweet.objects.filter(pk__in=[t.pk for t in tweets[day::30]]).update(received_at=now - timedelta(days=day, hours=1))
    photos = Photo.objects.bulk_create(
        Photo(tweet=tweet, position=0, source_url="https://pbs.twimg.com/media/x.jpg", status="recognised") for tweet in tweets
    )
    Label.objects.bulk_create(
        Label(photo=photo, name=name, confidence=99.0) for photo in photos for name in ("Dog", "Pet") if photo.tweet.status == "done"
    )
    Reply.objects.bulk_create(
        Reply(tweet=tweet, text="Hi. Dog.", status="posted", x_id=str(1_800_000_000_000_000_000 + tweet.pk), posted_at=now)
        for tweet in tweets
        if tweet.status == "done"
    )


def measure(client: Client, url: str, requests: int) -> dict:
    timings, queries = [], []
    count = [0]

    def counter(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    for _ in range(requests):
        count[0] = 0
        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries.append(count[0])
    return {"median_ms": round(statistics.median(timings), 1), "queries": statistics.median(queries)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    with database():
        user = User.objects.create_superuser("bench", "bench@example.com", "bench")
        client = Client()
        client.force_login(user)
        results = []
        for size in (int(value) for value in args.sizes.split(",")):
            grow_to(size)
            results.append({"tweets": size, **{name: measure(client, url, args.requests) for name, url in PAGES.items()}})
        print(json.dumps({"database": connection.vendor, "results": results}, indent=2))


if __name__ == "__main__":
    main()
