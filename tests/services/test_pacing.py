"""bot.services.pacing: replies within X's rate limit, oldest first, never into 429s.

The fake X keeps a window on POST /2/tweets as X does (fake_x.limit_posts) and sends its
headers. X's own 15-minute windows pass at once: the `clock` fixture drives the time the bot
and the fake X both read, and the sweeper moves it on to the next due reply when nothing is due.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Min
from django.utils import timezone

from bot import x_api
from bot.events import samples as payloads
from bot.models import RateBudget, Reply, Tweet
from bot.services import pacing
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]  # nothing waits for X


def mention(number: int) -> dict:
    """A text-only mention by an author of its own (so no two replies share a text)."""
    return payloads.tweet(photos=0, author_id=str(1_600_000_000_000_000_000 + number), author_name=f"fan{number}")


class Clock:
    """The time as the bot (django.utils.timezone.now) and the fake X both read it, moved on at will."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance_to(self, moment: datetime) -> None:
        self.offset += max(0.0, (moment - self.now()).total_seconds())


@pytest.fixture
def clock(monkeypatch, fake_x) -> Clock:
    driven = Clock()
    monkeypatch.setattr(timezone, "now", driven.now)
    fake_x.clock = driven.time
    return driven


def sweep_until_settled(sweep, clock: Clock, *, rounds: int = 100) -> int:
    """Run the sweeper as cron would, the time moved on to the next held reply's turn, until every tweet is final."""
    for sweeps in range(1, rounds + 1):
        due = Tweet.objects.filter(status__in=Tweet.PENDING_STATUSES).aggregate(due=Min("not_before"))["due"]
        if due is not None:
            clock.advance_to(due)
        if pacing.reply_slots_open() == 0:  # the window is spent: the next sweep after its reset
            clock.advance_to(RateBudget.objects.get().resets_at)
        sweep()
        if not Tweet.objects.filter(status__in=Tweet.PENDING_STATUSES).exists():
            return sweeps
    raise AssertionError(f"tweets still pending after {rounds} sweeps")


def test_a_burst_of_1000_mentions_is_answered_once_each_in_order_without_a_429(deliver, sweep, fake_x, clock):
    fake_x.limit_posts(100, window=900)  # X's 15 minutes
    mentions = [mention(number) for number in range(1000)]

    for start in range(0, len(mentions), 10):  # X batches a burst: ten mentions a delivery
        deliver(*mentions[start : start + 10])
    held = Tweet.objects.filter(status=Tweet.Status.PROCESSING, not_before__isnull=False).count()
    sweeps = sweep_until_settled(sweep, clock)

    statuses = [r.status for r in fake_x.calls("POST", "/2/tweets")]
    answered = [post["reply"]["in_reply_to_tweet_id"] for post in fake_x.posts()]
    assert answered == [post["id_str"] for post in mentions]  # all answered, none twice, in the order received
    assert statuses.count(429) == 0 and len(statuses) == 1000  # no call beyond the window's
    assert Tweet.objects.filter(status=Tweet.Status.DONE).count() == 1000
    assert Reply.objects.filter(status=Reply.Status.POSTED).count() == 1000
    assert held >= 800 and sweeps >= 9  # most waited in the database for later windows
    assert not Reply.objects.exclude(attempts=1).exists()  # waiting for a window is not an attempt
    assert_x_saw_only_valid_requests(fake_x)


def test_a_window_spent_elsewhere_costs_one_429_then_replies_wait_for_its_reset(deliver, sweep, fake_x, clock):
    fake_x.limit_posts(2, window=900)
    for _ in range(2):  # another client of the same account spent the window
        fake_x.queue("POST", "/2/tweets", 429, headers={"x-rate-limit-limit": "2", "x-rate-limit-remaining": "0"})
    mentions = [mention(number) for number in range(5)]

    deliver(*mentions)
    sweep_until_settled(sweep, clock)

    statuses = [r.status for r in fake_x.calls("POST", "/2/tweets")]
    assert statuses.count(429) <= 1 + 3  # the first probe, and the client's own retries of it
    assert [post["reply"]["in_reply_to_tweet_id"] for post in fake_x.posts()] == [post["id_str"] for post in mentions]


def test_the_probe_goes_alone_while_nothing_is_known_of_the_window():
    tweets = [1, 2]
    assert pacing.reply_slot_take(tweets[0]) is None  # the probe
    waits_until = pacing.reply_slot_take(tweets[1])
    assert waits_until is not None and waits_until > timezone.now()
    assert pacing.reply_slots_open() == 0


def test_what_x_says_sets_the_budget_and_calls_handed_out_meanwhile_stay_deducted():
    reset = time.time() + 900
    pacing.reply_slot_take(1)  # the probe
    pacing.reply_rate_limit_record(x_api.RateLimit(limit=100, remaining=99, reset=reset))
    assert pacing.reply_slot_take(2) is None and pacing.reply_slot_take(3) is None  # 97 left
    pacing.reply_rate_limit_record(x_api.RateLimit(limit=100, remaining=98, reset=reset))  # the answer to 2

    budget = RateBudget.objects.get()
    assert (budget.remaining, budget.limit, budget.resets_at) == (97, 100, datetime.fromtimestamp(reset, tz=UTC))


def test_a_spent_window_holds_replies_until_its_reset_and_the_next_starts_full():
    reset = time.time() + 900
    pacing.reply_slot_take(1)
    pacing.reply_rate_limit_record(x_api.RateLimit(limit=100, remaining=0, reset=reset))
    assert pacing.reply_slot_take(2) == datetime.fromtimestamp(reset, tz=UTC)

    RateBudget.objects.update(resets_at=timezone.now() - timedelta(seconds=1))  # the window ended
    assert pacing.reply_slots_open() == 100
    assert pacing.reply_slot_take(2) is None
    assert RateBudget.objects.get().remaining == 99


def test_the_rate_limit_headers_of_every_answer_are_read():
    limit = x_api.rate_limit_of({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "7", "x-rate-limit-reset": "1795608930"})
    assert limit == x_api.RateLimit(limit=100, remaining=7, reset=1795608930.0)
    assert x_api.rate_limit_of({"x-rate-limit-remaining": "7"}) is None
    assert x_api.rate_limit_of({"x-rate-limit-remaining": "-1", "x-rate-limit-reset": "1795608930"}) is None


def test_a_window_spent_without_x_saying_when_it_ends_is_probed_again_not_waited_for_ever():
    pacing.reply_rate_limit_record(x_api.RateLimit(limit=2, remaining=2, reset=time.time() + 1))
    RateBudget.objects.update(resets_at=timezone.now() - timedelta(seconds=1))  # that window is over
    for _ in range(2):  # both calls of the next one go out; no answer says where the window stands
        assert pacing.reply_slot_take(10**6) is None
        pacing.reply_probe_release()
    assert pacing.reply_slots_open() == 1  # the sweeper may send one
    assert pacing.reply_slot_take(10**6) is None  # and it goes, as a probe
    assert pacing.reply_slot_take(10**6 + 1) is not None  # the others wait for its answer
    pacing.reply_rate_limit_record(x_api.RateLimit(limit=2, remaining=1, reset=time.time() + 900))
    assert pacing.reply_slot_take(10**6 + 1) is None and RateBudget.objects.get().remaining == 0
