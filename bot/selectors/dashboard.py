"""What the console's dashboard reads: small query functions, a fixed number of queries each.

Nothing here writes. The dashboard view (bot.admin.dashboard) puts them on one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypedDict

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from bot import conf
from bot.models import Delivery, Label, Photo, RateBudget, ReconcileCursor, ReplayJob, Reply, Tweet, Webhook
from bot.services.pacing import REPLIES
from bot.services.sweeping import stuck_tweets

WINDOWS = (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7)), ("30 d", timedelta(days=30)))
CHART_DAYS = 30

# The credentials the bot reads; the dashboard says which are set, never their values.
CREDENTIALS = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_BEARER_TOKEN")


class Health(TypedDict):
    dry_run: bool
    bot_user_id: str
    credentials: dict[str, bool]
    recogniser: str
    storage: str
    dispatch: str
    webhook_url: str
    webhooks: list[Webhook]
    last_delivery_at: datetime | None


def health() -> Health:
    """The bot's configuration and state at a glance (two queries)."""
    readers = {
        "X_CONSUMER_KEY": conf.x_consumer_key,
        "X_CONSUMER_SECRET": conf.x_consumer_secret,
        "X_ACCESS_TOKEN": conf.x_access_token,
        "X_ACCESS_TOKEN_SECRET": conf.x_access_token_secret,
        "X_BEARER_TOKEN": conf.x_bearer_token,
    }
    bucket = conf.storage_bucket()
    return {
        "dry_run": conf.x_dry_run(),
        "bot_user_id": conf.x_bot_user_id(),
        "credentials": {name: bool(readers[name]()) for name in CREDENTIALS},
        "recogniser": conf.recogniser(),
        "storage": f"S3 bucket {bucket}" if bucket else "local folder",
        "dispatch": conf.dispatch_mode(),
        "webhook_url": conf.x_webhook_url() or "",
        "webhooks": list(Webhook.objects.all()),
        "last_delivery_at": Delivery.objects.order_by("-received_at").values_list("received_at", flat=True).first(),
    }


@dataclass(frozen=True)
class StatusCounts:
    """Rows by status, one column per window (24 h, 7 d, 30 d)."""

    title: str
    windows: tuple[str, ...]
    rows: list[tuple[str, str, list[int]]]  # (status value, its label, counts per window)


def _status_counts(title: str, model: type[Tweet] | type[Photo] | type[Reply], when: str, now: datetime) -> StatusCounts:
    annotations = {f"w{i}": Count("pk", filter=Q(**{f"{when}__gte": now - span})) for i, (_, span) in enumerate(WINDOWS)}
    longest = max(span for _, span in WINDOWS)
    found = {
        row["status"]: [row[f"w{i}"] for i in range(len(WINDOWS))]
        for row in model.objects.filter(**{f"{when}__gte": now - longest}).order_by().values("status").annotate(**annotations)
    }
    rows = [(value, str(label), found.get(value, [0] * len(WINDOWS))) for value, label in model.Status.choices]
    return StatusCounts(title, tuple(name for name, _ in WINDOWS), rows)


def status_counts(now: datetime | None = None) -> list[StatusCounts]:
    """Tweets, photos and replies by status over 24 h, 7 d, 30 d (three queries)."""
    now = now or timezone.now()
    return [
        _status_counts("Posts", Tweet, "received_at", now),
        _status_counts("Photos", Photo, "tweet__received_at", now),
        _status_counts("Replies", Reply, "created_at", now),
    ]


class Day(TypedDict):
    day: date
    posts: int
    replies_posted: int
    replies_dry_run: int
    photos_recognised: int
    cost: float


def _per_day(queryset, when: str) -> dict[date, int]:  # type: ignore[no-untyped-def]
    return {
        row["day"]: row["n"]
        for row in queryset.annotate(day=TruncDate(when)).order_by().values("day").annotate(n=Count("pk"))
        if row["day"] is not None
    }


def days(now: datetime | None = None, *, count: int = CHART_DAYS) -> list[Day]:
    """The last `count` days, oldest first: posts received, replies posted and composed in dry
    run, photos recognised (by their post's day), and what they cost at the set prices (four queries)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=count - 1)
    since = now - timedelta(days=count + 1)
    posts = _per_day(Tweet.objects.filter(received_at__gte=since, is_trial=False), "received_at")
    posted = _per_day(Reply.objects.filter(status=Reply.Status.POSTED, posted_at__gte=since), "posted_at")
    dry_run = _per_day(Reply.objects.filter(status=Reply.Status.DRY_RUN, created_at__gte=since), "created_at")
    recognised = _per_day(Photo.objects.filter(status=Photo.Status.RECOGNISED, tweet__received_at__gte=since), "tweet__received_at")
    per_photo, per_reply = conf.price_per_photo(), conf.price_per_reply()
    result: list[Day] = []
    for offset in range(count):
        day = first + timedelta(days=offset)
        replies_posted, photos = posted.get(day, 0), recognised.get(day, 0)
        result.append(
            {
                "day": day,
                "posts": posts.get(day, 0),
                "replies_posted": replies_posted,
                "replies_dry_run": dry_run.get(day, 0),
                "photos_recognised": photos,
                "cost": replies_posted * per_reply + photos * per_photo,
            }
        )
    return result


def top_labels(now: datetime | None = None, *, limit: int = 10) -> list[tuple[str, int]]:
    """The labels seen most in the last 30 days, with how many photos showed each (moderation labels left out)."""
    now = now or timezone.now()
    rows = (
        Label.objects.filter(is_moderation=False, photo__tweet__received_at__gte=now - timedelta(days=30))
        .order_by()
        .values("name")
        .annotate(n=Count("pk"))
        .order_by("-n", "name")[:limit]
    )
    return [(row["name"], row["n"]) for row in rows]


def failure_reasons(now: datetime | None = None, *, limit: int = 10) -> list[tuple[str, int]]:
    """Failed posts of the last 30 days grouped by their reason, most frequent first."""
    now = now or timezone.now()
    rows = (
        Tweet.objects.filter(status=Tweet.Status.FAILED, received_at__gte=now - timedelta(days=30))
        .order_by()
        .values("last_error")
        .annotate(n=Count("pk"))
        .order_by("-n", "last_error")[:limit]
    )
    return [(row["last_error"] or "(no reason recorded)", row["n"]) for row in rows]


def stuck(now: datetime | None = None, *, limit: int = 20) -> tuple[int, list[Tweet]]:
    """Posts left past the sweep delay with no worker on them: how many, and the oldest few."""
    queryset = stuck_tweets(now)
    return queryset.count(), list(queryset.order_by("updated_at")[:limit])


def rate_limited(now: datetime | None = None, *, limit: int = 20) -> tuple[int, list[Tweet]]:
    """Posts waiting for X's rate limit to reset, soonest first, with until when (`not_before`)."""
    now = now or timezone.now()
    queryset = Tweet.objects.filter(not_before__gt=now, status__in=Tweet.PENDING_STATUSES)
    return queryset.count(), list(queryset.order_by("not_before")[:limit])


class Recovery(TypedDict):
    replay_job: ReplayJob | None  # the latest: the running one, when one runs (only one can)
    cursor: ReconcileCursor | None
    reply_budget: RateBudget | None


def recovery() -> Recovery:
    """The replay job, the reconcile's cursor and the replies' rate budget (three queries)."""
    return {
        "replay_job": ReplayJob.objects.order_by("-created_at", "-pk").first(),
        "cursor": ReconcileCursor.objects.order_by(F("last_run_at").desc(nulls_last=True), "pk").first(),
        "reply_budget": RateBudget.objects.filter(endpoint=REPLIES).first(),
    }
