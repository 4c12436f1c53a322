"""A validly signed delivery of any shape: a clear answer, never a 500, nothing lost.

Each node of a realistic payload is replaced in turn by junk of every JSON type; the
webhook must answer 200 (or 400 for a body that is not an object) and keep the delivery.
Run with DATABASE_URL pointing at PostgreSQL too: column limits are enforced there.
"""

import copy

import pytest

from bot.models import Delivery, Tweet
from bot.events import samples as payloads

pytestmark = pytest.mark.django_db

# Strings no database column takes as they are: half an emoji (a lone surrogate) and NUL.
UNSTORABLE = ["\ud83d and more", "a\u0000b"]
JUNK = [None, True, -1, 10**30, 1.5, "", "x" * 5000, "٣٤٥", [], [None, 7], {}, {"id_str": {"a": 1}}, *UNSTORABLE]


def paths(node, prefix=()):
    """Every path to a node of the payload, as tuples of keys and indexes."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def replaced(payload, path, junk):
    payload = copy.deepcopy(payload)
    node = payload
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = junk
    return payload


@pytest.fixture
def no_dispatch(monkeypatch):
    monkeypatch.setattr("bot.dispatch.dispatch", lambda job, pk: None)


@pytest.fixture
def dispatched_pks(monkeypatch):
    pks = []
    monkeypatch.setattr("bot.dispatch.dispatch", lambda job, pk: pks.append(pk))
    return pks


def test_junk_anywhere_in_a_signed_delivery_never_makes_a_500(post_signed, no_dispatch, django_capture_on_commit_callbacks):
    original = payloads.truncated(payloads.tweet(kinds=("photo", "animated_gif")), "@imagebot full text 🐶")
    original["quoted_status"] = payloads.tweet(mention_bot=False)
    body = payloads.delivery(original, tweet_delete_events=[payloads.delete_event("1600000000000000999")])
    cases = [(path, junk) for path in list(paths(body))[1:] for junk in JUNK]
    assert len(cases) > 1200

    statuses = set()
    for path, junk in cases:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(replaced(body, path, junk))
        assert response.status_code == 200, (path, junk, response.status_code)
        statuses.add(response.status_code)

    assert Delivery.objects.count() == len(cases)  # every one kept
    assert Tweet.objects.count() >= 1
    assert all(len(t.author_username) <= 50 for t in Tweet.objects.all())


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_deeply_nested_json_gets_a_400_and_is_kept(post_signed, body):
    response = post_signed(body)
    assert response.status_code == 400
    assert Delivery.objects.get().outcome == Delivery.Outcome.INVALID


@pytest.mark.parametrize("junk", UNSTORABLE)
def test_unstorable_characters_are_cleaned_and_the_post_still_answered(post_signed, dispatched_pks, django_capture_on_commit_callbacks, junk):
    post = payloads.tweet(text=f"@{payloads.BOT_NAME} {junk} 🐶")
    post["user"]["screen_name"] = f"ana{junk}"
    body = payloads.delivery(post)
    body[f"odd_{junk}_events"] = [{}]

    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(body)

    assert response.status_code == 200
    tweet = Tweet.objects.get()
    assert "\u0000" not in tweet.text and "\ud83d " not in tweet.text and tweet.text.endswith(" 🐶")
    assert tweet.author_username in ("ana\ufffd and more", "anaab")
    assert dispatched_pks == [tweet.pk]  # still a mention of the bot
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECORDED


@pytest.mark.parametrize(
    "created_at",
    ["Fri Dec 31 23:59:59 -0100 9999", "Wed Nov 25 10:15:30 +2359 2026", "Wed Nov 25 10:15:30 -9999 2026", "Mon Jan 01 00:00:00 +0000 0001"],
)
def test_impossible_post_times_are_dropped_not_fatal(post_signed, no_dispatch, django_capture_on_commit_callbacks, created_at):
    post = payloads.tweet()
    post["created_at"] = created_at

    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(payloads.delivery(post)).status_code == 200

    tweet = Tweet.objects.get()
    assert tweet.posted_at is None or tweet.posted_at.utcoffset().total_seconds() == 0
