"""Pages of a list (bot/api/pagination.py): `count`, `next`, `previous`, `results`, and limits kept."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bot.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from tests.fixtures.records import record_tweet

pytestmark = pytest.mark.django_db


def page(api, **params) -> dict:
    response = api.get("/api/tweets/", params)
    assert response.status_code == 200, response.content
    return response.json()


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


def test_a_page_holds_the_count_links_and_results(api, db):
    tweets = [record_tweet() for _ in range(5)]
    first = page(api, limit=2)
    assert set(first) == {"count", "next", "previous", "results"}
    assert (first["count"], len(first["results"]), first["previous"]) == (5, 2, None)
    assert query_of(first["next"]) == {"limit": ["2"], "offset": ["2"]}
    last = page(api, limit=2, offset=4)
    assert (last["next"], [row["x_id"] for row in last["results"]]) == (None, [tweets[0].x_id])
    assert query_of(last["previous"]) == {"limit": ["2"], "offset": ["2"]}


def test_following_next_reads_every_row_once(api, db):
    tweets = [record_tweet() for _ in range(7)]
    seen, link = [], "/api/tweets/?limit=3"
    while link:
        body = api.get(link).json()
        seen += [row["x_id"] for row in body["results"]]
        link = body["next"]
    assert seen == [tweet.x_id for tweet in reversed(tweets)]


def test_links_keep_the_filters(api, db):
    for _ in range(3):
        record_tweet(author="ana")
    assert query_of(page(api, author="ana", limit=1)["next"]) == {"author": ["ana"], "limit": ["1"], "offset": ["1"]}


def test_the_default_page_is_50_rows(api, db):
    for _ in range(DEFAULT_LIMIT + 1):
        record_tweet()
    body = page(api)
    assert (body["count"], len(body["results"])) == (DEFAULT_LIMIT + 1, DEFAULT_LIMIT)


def test_an_offset_past_the_end_is_an_empty_page(api, zoo):
    body = page(api, offset=10**17)
    assert (body["count"], body["results"], body["next"]) == (5, [], None)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"),
        ("limit", str(MAX_LIMIT + 1)),
        ("limit", "-1"),
        ("limit", "ten"),
        ("limit", "1.5"),
        ("limit", " 5"),
        ("limit", "5_0"),
        ("offset", "-1"),
        ("offset", "9" * 19),
        ("offset", "1e3"),
    ],
)
def test_a_limit_or_offset_out_of_range_is_a_400(api, zoo, param, value):
    response = api.get("/api/tweets/", {param: value})
    assert response.status_code == 400
    assert list(response.json()) == [param]


def test_the_largest_page_is_allowed(api, zoo):
    assert len(page(api, limit=MAX_LIMIT)["results"]) == 5


@pytest.mark.parametrize("url", ["/api/labels/", "/api/deliveries/"])
def test_every_list_is_paged_the_same_way(client_for, operator, zoo, url):
    body = client_for(operator).get(url, {"limit": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert len(body["results"]) == 1
    assert body["next"] is not None
