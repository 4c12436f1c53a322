"""The API's query parameters (bot/api/filters.py): each filter, and what a value it cannot use gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import Tweet
from tests.fixtures.records import PhotoSpec, record_tweet

pytestmark = pytest.mark.django_db


def x_ids(api, **params) -> list[str]:
    response = api.get("/api/tweets/", params)
    assert response.status_code == 200, response.content
    return [row["x_id"] for row in response.json()["results"]]


def refused(api, url: str = "/api/tweets/", **params) -> dict:
    response = api.get(url, params)
    assert response.status_code == 400, response.content
    return response.json()


class TestTweetFilters:
    def test_status_takes_one_or_more(self, api, zoo):
        assert x_ids(api, status="processing") == [zoo.pending.x_id]
        assert len(x_ids(api, status=["processing", "done"])) == 5
        assert x_ids(api, status="failed") == []

    def test_label_matches_a_name_in_any_case_on_recognised_photos_only(self, api, zoo):
        assert x_ids(api, label="dog") == [zoo.dog.x_id]
        assert x_ids(api, label="WHEEL") == [zoo.car.x_id]
        assert x_ids(api, label="Cat") == []  # on a photo still being recognised
        assert x_ids(api, label="Animal") == []  # a parent, not a label of its own here
        assert x_ids(api, label="Explicit Nudity") == []  # a moderation label
        assert x_ids(api, label="no such label") == []

    def test_flagged_is_a_photo_flagged_by_moderation(self, api, zoo):
        assert x_ids(api, flagged="true") == [zoo.flagged.x_id]
        assert zoo.flagged.x_id not in x_ids(api, flagged="false")
        assert len(x_ids(api, flagged="0")) == 4

    def test_animal_judges_as_the_reply_does(self, api, zoo):
        assert x_ids(api, animal="true") == [zoo.dog.x_id]
        assert set(x_ids(api, animal="false")) == {zoo.car.x_id, zoo.flagged.x_id, zoo.no_photo.x_id, zoo.pending.x_id}

    def test_animal_counts_a_parent_as_the_reply_does(self, api, db):
        retriever = record_tweet(photos=[PhotoSpec(labels=(("Golden Retriever", 97.0, ("Dog", "Canine", "Mammal")),))])
        assert x_ids(api, animal="1") == [retriever.x_id]

    def test_author_is_the_username_with_or_without_at_in_any_case(self, api, zoo):
        assert x_ids(api, author="bo_b") == [zoo.car.x_id]
        assert x_ids(api, author="@BO_B") == [zoo.car.x_id]
        assert set(x_ids(api, author="ana")) == {zoo.dog.x_id, zoo.pending.x_id}
        assert x_ids(api, author="an") == []

    def test_author_x_id_is_exact(self, api, db):
        mine = record_tweet(author_x_id="1600000000000000123")
        record_tweet(author_x_id="16000000000000001234")
        assert x_ids(api, author_x_id="1600000000000000123") == [mine.x_id]

    def test_received_from_and_before_make_a_half_open_range(self, api, db):
        october = record_tweet(received_at=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))
        november_first = record_tweet(received_at=datetime(2026, 11, 1, tzinfo=UTC))
        november_last = record_tweet(received_at=datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
        december = record_tweet(received_at=datetime(2026, 12, 1, tzinfo=UTC))
        assert x_ids(api, received_from="2026-11-01", received_before="2026-12-01") == [november_last.x_id, november_first.x_id]
        assert x_ids(api, received_before="2026-11-01T00:00:00Z") == [october.x_id]
        assert x_ids(api, received_from="2026-12-01T01:00:00+01:00") == [december.x_id]  # midnight UTC

    def test_a_moment_beyond_what_utc_can_hold_is_the_earliest_or_latest_there_is(self, api, zoo):
        assert len(x_ids(api, received_from="0001-01-01T00:00:00+01:00")) == 5
        assert x_ids(api, received_from="9999-12-31T23:59:59-01:00") == []
        assert x_ids(api, received_before="0001-01-01T00:00:00+01:00") == []

    def test_search_finds_every_word_in_the_text_or_the_username(self, api, zoo):
        assert x_ids(api, search="DOG") == [zoo.dog.x_id]
        assert x_ids(api, search="look dog") == [zoo.dog.x_id]
        assert x_ids(api, search="look car") == []
        assert x_ids(api, search="carla") == [zoo.flagged.x_id]

    def test_filters_combine(self, api, zoo):
        assert x_ids(api, author="ana", status="done", animal="true") == [zoo.dog.x_id]
        assert x_ids(api, author="ana", flagged="true") == []

    def test_an_empty_value_is_no_filter(self, api, zoo):
        empty = {name: "" for name in ("status", "label", "flagged", "animal", "author", "author_x_id", "search", "ordering")}
        assert len(x_ids(api, **empty, received_from="", received_before="", limit="", offset="")) == 5

    @pytest.mark.parametrize("url", ["/api/tweets/", "/api/labels/"])
    def test_an_ordering_of_empty_names_is_no_ordering(self, api, zoo, url):
        response = api.get(url, {"ordering": ",,,"})
        assert response.status_code == 200
        assert response.json()["results"] == api.get(url).json()["results"]

    def test_unknown_parameters_are_ignored(self, api, zoo):
        assert len(x_ids(api, colour="blue")) == 5


class TestOrdering:
    def test_by_default_the_newest_come_first(self, api, zoo):
        assert x_ids(api)[0] == zoo.pending.x_id

    def test_it_orders_by_one_field_or_several(self, api, db):
        late = record_tweet(author="b", posted_at=datetime(2026, 11, 2, tzinfo=UTC))
        early = record_tweet(author="b", posted_at=datetime(2026, 11, 1, tzinfo=UTC))
        unposted = record_tweet(author="a")
        assert x_ids(api, ordering="received_at") == [late.x_id, early.x_id, unposted.x_id]
        assert x_ids(api, ordering="posted_at") == [early.x_id, late.x_id, unposted.x_id]  # no time: last either way
        assert x_ids(api, ordering="-posted_at") == [late.x_id, early.x_id, unposted.x_id]
        assert x_ids(api, ordering="author,-posted_at") == [unposted.x_id, late.x_id, early.x_id]

    def test_ties_keep_one_order_so_pages_never_overlap(self, api, db):
        same = datetime(2026, 11, 1, tzinfo=UTC)
        tweets = [record_tweet(author="same", posted_at=same) for _ in range(6)]
        pages = [x_ids(api, ordering="posted_at", limit=2, offset=offset) for offset in (0, 2, 4)]
        assert [x_id for page in pages for x_id in page] == [tweet.x_id for tweet in tweets]
        pages = [x_ids(api, ordering="-author", limit=2, offset=offset) for offset in (0, 2, 4)]
        assert [x_id for page in pages for x_id in page] == [tweet.x_id for tweet in reversed(tweets)]


class TestRefusedValues:
    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("status", "waiting"),
            ("status", "DONE"),
            ("flagged", "yes"),
            ("flagged", "maybe"),
            ("animal", "2"),
            ("received_from", "last tuesday"),
            ("received_from", "2026-13-01"),
            ("received_before", "2026-11-01T25:00:00"),
            ("ordering", "text"),
            ("ordering", "-received_at,pk"),
            ("label", "Dog\x00"),
            ("search", "\x00"),
            ("author", "a" * 201),
        ],
    )
    def test_a_value_it_cannot_use_is_a_400_naming_the_parameter(self, api, zoo, param, value):
        errors = refused(api, **{param: value})
        assert list(errors) == [param]
        assert all(isinstance(message, str) for message in errors[param])

    def test_label_statistics_refuse_the_same_way(self, api, zoo):
        assert list(refused(api, "/api/labels/", moderation="perhaps")) == ["moderation"]
        assert list(refused(api, "/api/labels/", ordering="confidence")) == ["ordering"]
        assert list(refused(api, "/api/labels/", received_from="soon")) == ["received_from"]

    def test_deliveries_refuse_the_same_way(self, client_for, operator, zoo):
        response = client_for(operator).get("/api/deliveries/", {"outcome": "lost"})
        assert (response.status_code, list(response.json())) == (400, ["outcome"])

    def test_several_bad_values_are_named_at_once(self, api, zoo):
        assert set(refused(api, status="x", animal="x")) == {"status", "animal"}

    def test_a_tweet_status_filter_knows_every_status(self, api, db):
        for status in Tweet.Status.values:
            assert api.get("/api/tweets/", {"status": status}).status_code == 200
