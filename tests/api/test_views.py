"""The API's endpoints (bot/api/views.py): what each answers, record by record."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from bot.models import Reply, Tweet
from tests.fixtures.records import PhotoSpec, record_delivery, record_tweet

pytestmark = pytest.mark.django_db


def by_x_id(response) -> dict[str, dict]:
    assert response.status_code == 200, response.content
    return {row["x_id"]: row for row in response.json()["results"]}


class TestTweetList:
    def test_it_lists_every_tweet_newest_first(self, api, zoo):
        response = api.get("/api/tweets/")
        body = response.json()
        assert body["count"] == 5
        assert [row["x_id"] for row in body["results"]] == [
            zoo.pending.x_id,
            zoo.no_photo.x_id,
            zoo.flagged.x_id,
            zoo.car.x_id,
            zoo.dog.x_id,
        ]

    def test_a_tweet_says_what_was_found_and_how_the_bot_answered(self, api, zoo):
        dog = by_x_id(api.get("/api/tweets/"))[zoo.dog.x_id]
        assert dog["url"] == f"https://x.com/ana/status/{zoo.dog.x_id}"
        assert dog["author_username"] == "ana"
        assert dog["status"] == "done"
        assert dog["photo_count"] == 2
        assert dog["flagged"] is False
        assert dog["shows_animal"] is True
        # The reply's list: each name once, at its best confidence on any photo, most confident first.
        assert dog["labels"] == [
            {"name": "Dog", "confidence": 99.5},
            {"name": "Pet", "confidence": 99.1},
            {"name": "Grass", "confidence": 90.2},
            {"name": "Ball", "confidence": 88.0},
        ]
        assert dog["reply"]["status"] == "posted"
        assert dog["reply"]["text"] == "Hi @ana. On your image, I can recognise: Dog, Pet, Grass, Ball."

    def test_it_tells_a_car_a_flagged_photo_and_a_tweet_without_photos_apart(self, api, zoo):
        rows = by_x_id(api.get("/api/tweets/"))
        assert (rows[zoo.car.x_id]["shows_animal"], rows[zoo.car.x_id]["flagged"]) == (False, False)
        assert (rows[zoo.flagged.x_id]["flagged"], rows[zoo.flagged.x_id]["labels"]) == (True, [{"name": "Person", "confidence": 99.0}])
        assert (rows[zoo.no_photo.x_id]["photo_count"], rows[zoo.no_photo.x_id]["labels"]) == (0, [])

    def test_labels_of_photos_not_yet_recognised_do_not_count(self, api, zoo):
        pending = by_x_id(api.get("/api/tweets/"))[zoo.pending.x_id]
        assert (pending["labels"], pending["shows_animal"], pending["reply"]) == ([], False, None)

    def test_x_ids_are_strings_exactly_as_x_gave_them(self, api, db):
        big = str(2**63 - 1)  # far past 2**53: a JSON number would be rounded
        record_tweet(tweet_x_id=big, author_x_id="1600000000000000123", reply="Hi.")
        raw = api.get("/api/tweets/").content.decode()
        row = json.loads(raw)["results"][0]
        assert (row["x_id"], row["author_x_id"]) == (big, "1600000000000000123")
        assert isinstance(row["reply"]["x_id"], str) and len(row["reply"]["x_id"]) == 19
        assert f'"x_id":"{big}"' in raw


class TestTweetDetail:
    def test_it_finds_a_tweet_by_its_x_id(self, api, zoo):
        response = api.get(f"/api/tweets/{zoo.dog.x_id}/")
        assert response.status_code == 200
        assert response.json()["x_id"] == zoo.dog.x_id

    def test_it_shows_every_photo_with_its_labels_parents_and_categories(self, api, zoo):
        tweet = api.get(f"/api/tweets/{zoo.dog.x_id}/").json()
        first, second = tweet["photos"]
        assert (first["position"], first["status"], first["source_url"]) == (0, "recognised", zoo.dog.photos.get(position=0).source_url)
        assert first["labels"] == [
            {"name": "Dog", "confidence": 99.5, "parents": ["Animal", "Pet", "Mammal", "Canine"], "categories": []},
            {"name": "Pet", "confidence": 99.1, "parents": ["Animal"], "categories": []},
            {"name": "Grass", "confidence": 90.2, "parents": ["Plant"], "categories": ["Nature and Outdoors"]},
        ]
        assert first["moderation_labels"] == []
        assert [label["name"] for label in second["labels"]] == ["Dog", "Ball"]

    def test_moderation_labels_are_kept_apart(self, api, zoo):
        photo = api.get(f"/api/tweets/{zoo.flagged.x_id}/").json()["photos"][0]
        assert photo["flagged"] is True
        assert [label["name"] for label in photo["labels"]] == ["Person"]
        assert photo["moderation_labels"] == [{"name": "Explicit Nudity", "confidence": 95.0, "parents": [], "categories": ["Explicit"]}]

    def test_it_shows_the_reply_with_its_status_and_attempts(self, api, db):
        tweet = record_tweet(status=Tweet.Status.FAILED, reply="Hi @ana.", reply_status=Reply.Status.FAILED)
        Reply.objects.filter(tweet=tweet).update(attempts=3, last_error="403 Forbidden: You are not allowed to reply")
        reply = api.get(f"/api/tweets/{tweet.x_id}/").json()["reply"]
        assert (reply["status"], reply["x_id"], reply["attempts"]) == ("failed", "", 3)
        assert reply["last_error"] == "403 Forbidden: You are not allowed to reply"

    def test_it_tells_why_a_tweet_was_skipped(self, api, db):
        tweet = record_tweet(status=Tweet.Status.SKIPPED)
        Tweet.objects.filter(pk=tweet.pk).update(skip_reason="not addressed to the bot", mentions_bot=False)
        body = api.get(f"/api/tweets/{tweet.x_id}/").json()
        assert (body["status"], body["skip_reason"], body["mentions_bot"], body["reply"]) == (
            "skipped",
            "not addressed to the bot",
            False,
            None,
        )

    @pytest.mark.parametrize("x_id", ["1", "99999999999999999999999999", "abc", "1.5", "%00"])
    def test_an_unknown_id_is_a_json_404(self, api, zoo, x_id):
        response = api.get(f"/api/tweets/{x_id}/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()

    def test_filters_do_not_hide_a_tweet_asked_for_by_its_id(self, api, zoo):
        assert api.get(f"/api/tweets/{zoo.dog.x_id}/", {"status": "failed", "animal": "false"}).status_code == 200


class TestLabelStats:
    def test_it_counts_each_label_and_its_mean_confidence(self, api, zoo):
        rows = {(row["name"], row["is_moderation"]): row for row in api.get("/api/labels/").json()["results"]}
        assert rows["Dog", False] == {
            "name": "Dog",
            "is_moderation": False,
            "photo_count": 2,
            "tweet_count": 1,
            "mean_confidence": pytest.approx(98.25),
            "max_confidence": 99.5,
        }
        assert rows["Explicit Nudity", True]["photo_count"] == 1
        assert ("Cat", False) not in rows  # its photo is not recognised yet

    def test_the_most_frequent_come_first_then_by_name(self, api, zoo):
        names = [row["name"] for row in api.get("/api/labels/").json()["results"]]
        assert names == ["Dog", "Ball", "Car", "Explicit Nudity", "Grass", "Person", "Pet", "Wheel"]

    def test_it_counts_over_a_date_range(self, api, db):
        record_tweet(received_at=_at("2026-10-15"), photos=[PhotoSpec(labels=(("Dog", 90.0),))])
        record_tweet(received_at=_at("2026-11-15"), photos=[PhotoSpec(labels=(("Dog", 80.0),)), PhotoSpec(labels=(("Dog", 70.0),))])
        record_tweet(received_at=_at("2026-12-01"), photos=[PhotoSpec(labels=(("Cat", 99.0),))])
        november = api.get("/api/labels/", {"received_from": "2026-11-01", "received_before": "2026-12-01"}).json()
        assert november["count"] == 1
        dog = november["results"][0]
        assert (dog["name"], dog["photo_count"], dog["tweet_count"], dog["max_confidence"]) == ("Dog", 2, 1, 80.0)
        assert dog["mean_confidence"] == pytest.approx(75.0)

    def test_it_counts_moderation_labels_alone_when_asked(self, api, zoo):
        rows = api.get("/api/labels/", {"moderation": "true"}).json()["results"]
        assert [(row["name"], row["is_moderation"]) for row in rows] == [("Explicit Nudity", True)]
        assert "Explicit Nudity" not in [row["name"] for row in api.get("/api/labels/", {"moderation": "false"}).json()["results"]]

    def test_it_counts_one_name_in_any_case(self, api, zoo):
        rows = api.get("/api/labels/", {"name": "dOG"}).json()["results"]
        assert [row["name"] for row in rows] == ["Dog"]

    @pytest.mark.parametrize(
        ("ordering", "first"),
        [("name", "Ball"), ("-name", "Wheel"), ("mean_confidence", "Ball"), ("-mean_confidence", "Pet"), ("count", "Ball")],
    )
    def test_it_orders_by_count_confidence_or_name(self, api, zoo, ordering, first):
        assert api.get("/api/labels/", {"ordering": ordering}).json()["results"][0]["name"] == first


class TestDeliveries:
    def test_it_lists_deliveries_newest_first_without_their_bodies(self, client_for, operator, zoo):
        response = client_for(operator).get("/api/deliveries/")
        rows = response.json()["results"]
        assert [row["id"] for row in rows] == [zoo.deliveries[1].pk, zoo.deliveries[0].pk]
        assert rows[1] | {"received_at": None} == {
            "id": zoo.deliveries[0].pk,
            "received_at": None,
            "size": len(zoo.deliveries[0].body),
            "outcome": "recorded",
            "detail": "",
            "for_user_x_id": "2244994945",
            "event_kinds": ["tweet_create_events"],
            "tweet_x_ids": [zoo.dog.x_id],
        }
        assert b"for_user_id" not in response.content  # a word of the bodies only

    def test_one_delivery_is_shown_without_its_body_too(self, client_for, operator, zoo):
        body = client_for(operator).get(f"/api/deliveries/{zoo.deliveries[0].pk}/").json()
        assert "body" not in body and "base64" not in body

    def test_the_body_comes_byte_for_byte_when_asked_for_one_delivery(self, client_for, operator, db):
        raw = b'{"for_user_id":"1","tweet_create_events":[{"text":"caf\xc3\xa9"}]}'
        delivery = record_delivery(body=raw)
        body = client_for(operator).get(f"/api/deliveries/{delivery.pk}/body/").json()
        assert base64.b64decode(body["base64"]) == raw
        assert (body["id"], body["size"], body["utf8"], body["text"]) == (delivery.pk, len(raw), True, raw.decode())

    def test_a_body_that_is_not_utf8_is_still_exact_in_base64(self, client_for, operator, zoo):
        body = client_for(operator).get(f"/api/deliveries/{zoo.deliveries[1].pk}/body/").json()
        assert base64.b64decode(body["base64"]) == b"not json \xff"
        assert (body["utf8"], body["text"]) == (False, "not json \ufffd")

    def test_they_filter_by_outcome_and_time(self, client_for, operator, db):
        old = record_delivery(received_at=_at("2026-10-01"))
        record_delivery(received_at=_at("2026-11-01"), outcome="invalid")
        client = client_for(operator)
        assert [row["id"] for row in client.get("/api/deliveries/", {"received_before": "2026-10-02"}).json()["results"]] == [old.pk]
        assert [row["outcome"] for row in client.get("/api/deliveries/", {"outcome": "invalid"}).json()["results"]] == ["invalid"]

    @pytest.mark.parametrize("url", ["/api/deliveries/424242/", "/api/deliveries/424242/body/", "/api/deliveries/9" + "9" * 30 + "/body/"])
    def test_an_unknown_delivery_is_a_404(self, client_for, operator, db, url):
        response = client_for(operator).get(url)
        assert response.status_code == 404
        assert "detail" in response.json()


class TestRoot:
    def test_it_lists_the_endpoints(self, api, db):
        assert set(api.get("/api/").json()) == {"tweets", "labels", "deliveries"}

    def test_any_other_path_is_a_json_404(self, api, db):
        for url in ["/api/nothing/", "/api/tweets/1/photos/", "/api/tweets/a/b/", "/api/tweets/1%0A/"]:
            response = api.get(url)
            assert (response.status_code, response.json()) == (404, {"detail": "Not found."}), url

    def test_a_path_without_its_slash_is_sent_to_the_slashed_one(self, api, zoo):
        response = api.get("/api/tweets", follow=True)
        assert response.redirect_chain == [("/api/tweets/", 301)]
        assert response.json()["count"] == 5
        assert api.get("/api/nothing", follow=True).status_code == 404

    def test_the_browsable_api_shows_the_way_back_to_the_root(self, zoo, reader):
        client = APIClient()
        client.force_login(reader)
        page = client.get("/api/tweets/", HTTP_ACCEPT="text/html").content.decode()
        assert '<a href="/api/">Api Root</a>' in page
        assert "Not Found" not in page


def _at(day: str) -> datetime:
    """Noon UTC on that day."""
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
