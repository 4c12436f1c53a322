"""What the API reads (bot/api/selectors.py): a fixed number of queries whatever the page size, and
the database's "shows an animal" giving the reply's answers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings, strategies as st

from bot import replies
from bot.api import selectors
from bot.models import Photo, Tweet
from bot.recognition import DetectedLabel
from tests.fixtures.records import DOG_LABELS, PhotoSpec, record_delivery, record_tweet

pytestmark = pytest.mark.django_db

PAGE_SIZES = (1, 10, 40)


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.fixture
def many_tweets(db):
    """40 tweets, each with three labelled photos (one flagged) and a reply, from 40 deliveries."""
    for n in range(40):
        photos = [PhotoSpec(labels=DOG_LABELS), PhotoSpec(labels=DOG_LABELS[1:]), PhotoSpec(moderation=(("Violence", 90.0),), flagged=True)]
        record_tweet(author=f"user{n}", photos=photos, reply="Hi.", delivery=record_delivery())


class TestQueryCounts:
    """Token (1), the user's and their groups' permissions (2), then the page itself."""

    AUTH = 3

    @pytest.mark.parametrize(
        ("url", "page_queries"),
        [
            ("/api/tweets/", 4),  # count, tweets with replies, photos, labels
            ("/api/tweets/?animal=true&flagged=true&label=dog&search=imagebot&ordering=-posted_at", 4),
            ("/api/labels/", 2),  # count, the counts
            ("/api/deliveries/", 3),  # count, deliveries, their tweets
        ],
    )
    def test_a_page_costs_the_same_queries_whatever_its_size(self, client_for, operator, many_tweets, url, page_queries):
        client = client_for(operator)
        separator = "&" if "?" in url else "?"
        counts = {size: queries(client, f"{url}{separator}limit={size}") for size in PAGE_SIZES}
        assert counts == dict.fromkeys(PAGE_SIZES, self.AUTH + page_queries)

    def test_one_tweet_costs_three_queries_however_many_photos_and_labels(self, api, many_tweets, db):
        small = record_tweet(photos=[PhotoSpec(labels=DOG_LABELS[:1])])
        big = record_tweet(photos=[PhotoSpec(labels=DOG_LABELS) for _ in range(4)], reply="Hi.")
        expected = self.AUTH + 3  # the tweet with its reply, its photos, their labels
        assert queries(api, f"/api/tweets/{small.x_id}/") == queries(api, f"/api/tweets/{big.x_id}/") == expected

    def test_a_delivery_body_costs_one_query(self, client_for, operator, db):
        delivery = record_delivery()
        assert queries(client_for(operator), f"/api/deliveries/{delivery.pk}/body/") == self.AUTH + 1

    def test_the_list_never_reads_delivery_bodies(self, client_for, operator, many_tweets):
        with CaptureQueriesContext(connection) as captured:
            client_for(operator).get("/api/deliveries/")
        delivery_queries = [query["sql"] for query in captured if 'FROM "bot_delivery"' in query["sql"]]
        assert delivery_queries and all('"bot_delivery"."body"' not in sql for sql in delivery_queries)


# What the reply sees: the labels of its recognised photos, moderation labels left out.
def reply_judgement(tweet: Tweet) -> bool:
    labels = [
        DetectedLabel(name=label.name, confidence=label.confidence, parents=tuple(label.parents), moderation=label.is_moderation)
        for photo in tweet.photos.filter(status=Photo.Status.RECOGNISED)
        for label in photo.labels.all()
    ]
    return replies.shows_animal(labels)


def database_judgement(tweet: Tweet) -> bool:
    return Tweet.objects.filter(pk=tweet.pk).filter(selectors.tweet_shows_animal()).exists()


class TestShowsAnimal:
    @pytest.mark.parametrize(
        ("photos", "expected"),
        [
            ([PhotoSpec(labels=(("Dog", 99.0),))], True),
            ([PhotoSpec(labels=(("dOG", 99.0),))], True),
            ([PhotoSpec(labels=(("Sea Life", 99.0),))], True),
            ([PhotoSpec(labels=(("Golden Retriever", 99.0, ("Dog", "Pet")),))], True),
            ([PhotoSpec(labels=(("Labrador", 99.0, ("canine",)),))], True),
            ([PhotoSpec(labels=(("Hotdog", 99.0, ("Food",)),))], False),
            ([PhotoSpec(labels=(("Dogs", 99.0, ("Doghouse",)),))], False),
            ([PhotoSpec(labels=(("Car", 99.0, ("Vehicle",)),))], False),
            ([PhotoSpec(labels=(("Mouse", 99.0),))], False),  # ambiguous: left to its parents
            ([PhotoSpec(labels=(("Mouse", 99.0, ("Rodent",)),))], True),
            ([PhotoSpec(moderation=(("Dog", 99.0),))], False),  # a moderation label is not what was seen
            ([PhotoSpec(labels=(("Dog", 99.0),), status=Photo.Status.RECOGNISING)], False),
            ([PhotoSpec(labels=(("Car", 99.0),)), PhotoSpec(labels=(("Cat", 99.0),))], True),
            ([PhotoSpec(labels=(("Guinea", 99.0, ("Pig",)),))], True),
            ([PhotoSpec(labels=(("Guinea Pig Cage", 99.0, ("Guinea Pigs",)),))], False),
            ([PhotoSpec(labels=(("50%", 99.0, ("_at", "Dog_")),))], False),
            ([], False),
        ],
    )
    def test_the_database_and_the_reply_agree(self, photos, expected):
        tweet = record_tweet(photos=photos)
        assert (reply_judgement(tweet), database_judgement(tweet)) == (expected, expected)

    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
    )
    @given(
        st.lists(
            st.tuples(
                st.sampled_from([*sorted(replies.ANIMAL_LABELS), "Car", "Plant", "Mouse", "Food", "Dogs", "Pig Iron"]).flatmap(
                    lambda name: st.sampled_from([name, name.lower(), name.upper(), name.swapcase(), f"{name} Toy"])
                ),
                st.lists(st.sampled_from(["Animal", "pet", "Vehicle", "Nature", "BIRD", "Canines", "Toy Dog"]), max_size=3),
                st.booleans(),
                st.sampled_from([Photo.Status.RECOGNISED, Photo.Status.RECOGNISED, Photo.Status.RECOGNISING]),
            ),
            max_size=4,
        )
    )
    def test_they_agree_on_any_labels(self, rows):
        photos = [
            PhotoSpec(
                labels=() if moderation else ((name, 90.0, tuple(parents)),),
                moderation=((name, 90.0, tuple(parents)),) if moderation else (),
                status=status,
            )
            for name, parents, moderation, status in rows
        ]
        tweet = record_tweet(photos=photos)
        assert database_judgement(tweet) == reply_judgement(tweet)
