"""Reading X's JSON: ids as X writes them, and nothing else."""

from __future__ import annotations

import pytest

from bot.events import parse_delivery, samples as payloads
from bot.events.values import read_id


@pytest.mark.parametrize("value", ["1", "1600000000000000001", "9" * 19, 1600000000000000001])
def test_an_x_id_is_kept_as_a_string(value):
    assert read_id(value) == str(value)


@pytest.mark.parametrize(
    "value", ["0", "0001", "01600000000000000001", "1" * 20, "-1", "+1", "1e5", " 1", "١٢٣", 0, True, None, 1.0, "", "abc"]
)
def test_anything_that_is_not_an_x_id_is_no_id(value):
    assert read_id(value) == ""


@pytest.mark.parametrize("bad_id", ["0001", "12345678901234567890", "0"])
def test_a_tweet_whose_id_x_cannot_have_written_is_kept_as_a_problem_not_a_tweet(bad_id):
    tweet = payloads.tweet()
    tweet["id_str"] = bad_id
    tweet["id"] = bad_id
    parsed = parse_delivery(payloads.delivery(tweet))
    assert parsed.tweets == ()
    assert parsed.problems == ("tweet_create_events[0]: no usable id",)


def test_a_zero_padded_id_is_not_a_second_tweet_of_the_same_number():
    padded, plain = payloads.tweet(tweet_id="1"), payloads.tweet(tweet_id="1")
    padded["id_str"] = padded["id"] = "0001"
    parsed = parse_delivery(payloads.delivery(padded, plain))
    assert [tweet.x_id for tweet in parsed.tweets] == ["1"]
