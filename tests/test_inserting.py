"""Insert: the rows it writes are the rows save() writes, field by field, on either database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from bot.inserting import Insert, _rollback, dbapi_cursor, transaction_of_inserts
from bot.models import Delivery, Photo, Tweet

pytestmark = pytest.mark.django_db

POSTED = datetime(2026, 11, 30, 12, 0, 5, 250000, tzinfo=UTC)


def delivery_values() -> dict:
    return {
        "body": b'{"for_user_id": "9", "tweet_create_events": []}\x00\xff',  # any bytes, as a body is kept
        "size": 48,
        "outcome": Delivery.Outcome.RECORDED,
        "for_user_x_id": "9",
        "event_kinds": ["tweet_create_events", {"nested": [1, "ü"]}],
        "detail": "a problem; another",
        "event_uuid": "3f1c0c6e-0000-4000-8000-000000000001",
    }


def tweet_values(x_id: str, delivery: Delivery) -> dict:
    return {
        "x_id": x_id,
        "delivery": delivery,
        "for_user_x_id": "9",
        "author_x_id": "2",
        "author_username": "ana",
        "text": "@bot what is this? 🐕",
        "posted_at": POSTED,
        "in_reply_to_x_id": "1600000000000000000",
        "mentions_bot": True,
        "is_quote": True,
        "status": Tweet.Status.SKIPPED,
        "skip_reason": "own tweet",
    }


def stored(instance) -> dict:
    """Every column of the instance's row but its id and the times of its writing."""
    row = type(instance).objects.filter(pk=instance.pk).values().get()
    for name in ("id", "received_at", "updated_at"):
        row.pop(name, None)
    return {name: bytes(value) if isinstance(value, memoryview) else value for name, value in row.items()}


def test_a_delivery_and_its_tweet_are_stored_as_save_stores_them():
    by_save = Delivery.objects.create(**delivery_values())
    inserted = Delivery(**delivery_values())
    Insert([inserted]).run()
    assert inserted.pk is not None and inserted.pk != by_save.pk and not inserted._state.adding
    assert stored(inserted) == stored(by_save)
    assert Delivery.objects.get(pk=inserted.pk).received_at == inserted.received_at  # auto_now_add, set on the instance too

    tweet_by_save = Tweet.objects.create(**tweet_values("1600000000000000001", by_save))
    tweet = Tweet(**tweet_values("1600000000000000002", inserted))
    Insert([tweet]).run()
    expected = stored(tweet_by_save) | {"x_id": "1600000000000000002", "delivery_id": inserted.pk}
    assert stored(tweet) == expected
    assert Tweet.objects.get(pk=tweet.pk).posted_at == POSTED and tweet.delivery_id == inserted.pk


def photos(tweet: Tweet) -> list[Photo]:
    return [Photo(tweet=tweet, position=n, source_url=f"https://pbs.twimg.com/media/p{n}.jpg", media_key=f"3_{n}") for n in range(3)]


def test_several_photos_in_one_statement_as_bulk_create_stores_them(django_assert_num_queries):
    delivery = Delivery.objects.create(**delivery_values())
    by_bulk_create = Photo.objects.bulk_create(photos(Tweet.objects.create(**tweet_values("1600000000000000003", delivery))))
    tweet = Tweet.objects.create(**tweet_values("1600000000000000006", delivery))
    inserted = photos(tweet)
    with django_assert_num_queries(1):
        Insert(inserted).run()
    assert [photo.pk for photo in inserted] == list(tweet.photos.order_by("position").values_list("pk", flat=True))
    assert [stored(photo) | {"tweet_id": None} for photo in inserted] == [stored(photo) | {"tweet_id": None} for photo in by_bulk_create]
    assert stored(inserted[2])["source_url"] == "https://pbs.twimg.com/media/p2.jpg" and not any(photo._state.adding for photo in inserted)


def test_a_related_row_saved_after_it_was_assigned_is_referred_to_as_save_would():
    delivery = Delivery(**delivery_values())
    tweet = Tweet(**tweet_values("1600000000000000007", delivery))  # assigned while the delivery had no id
    Insert([delivery]).run()
    Insert([tweet]).run()
    assert Tweet.objects.get(pk=tweet.pk).delivery_id == delivery.pk
    with pytest.raises(ValueError, match="unsaved related object"):
        Insert([Tweet(**tweet_values("1600000000000000008", Delivery(**delivery_values())))]).run()


def test_a_known_x_id_raises_integrity_error_as_save_does():
    delivery = Delivery.objects.create(**delivery_values())
    Tweet.objects.create(**tweet_values("1600000000000000004", delivery))
    with pytest.raises(IntegrityError), transaction.atomic():
        Insert([Tweet(**tweet_values("1600000000000000004", delivery))]).run()
    assert Tweet.objects.filter(x_id="1600000000000000004").count() == 1
    with transaction.atomic():  # caught inside a transaction: it can only be rolled back, as after save()
        with pytest.raises(IntegrityError):
            Insert([Tweet(**tweet_values("1600000000000000004", delivery))]).run()
        assert transaction.get_connection().needs_rollback
        transaction.set_rollback(True)


def test_only_new_instances_of_one_model():
    delivery = Delivery.objects.create(**delivery_values())
    with pytest.raises(ValueError, match="new instances of one model"):
        Insert([delivery]).run()  # already saved
    with pytest.raises(ValueError, match="without primary keys"):
        Insert([Delivery(pk=12345, **delivery_values())]).run()
    with pytest.raises(ValueError, match="new instances of one model"):
        Insert([Delivery(**delivery_values()), Tweet(**tweet_values("1600000000000000005", delivery))]).run()
    with pytest.raises(ValueError, match="nothing to insert"):
        Insert([])
    assert Delivery.objects.count() == 1


def test_a_new_x_id_is_inserted_and_a_known_one_writes_nothing():
    delivery = Delivery.objects.create(**delivery_values())
    by_save = Tweet.objects.create(**tweet_values("1600000000000000010", delivery))
    new = Tweet(**tweet_values("1600000000000000011", delivery))
    with transaction.atomic():
        assert Insert([new], unique="x_id").run() is True
        again = Tweet(**{**tweet_values("1600000000000000010", delivery), "text": "a copy"})
        assert Insert([again], unique="x_id").run() is False
        assert not transaction.get_connection().needs_rollback  # the transaction goes on
    assert new.pk is not None and not new._state.adding
    assert stored(new) == {**stored(by_save), "x_id": "1600000000000000011"}
    assert again.pk is None and again._state.adding
    assert Tweet.objects.get(x_id="1600000000000000010").text == by_save.text  # left as it was


def test_insert_new_skips_only_a_taken_key():
    delivery = Delivery.objects.create(**delivery_values())
    with pytest.raises(ValueError, match="not unique"):
        Insert([Tweet(**tweet_values("1600000000000000012", delivery))], unique="author_x_id").run()
    with pytest.raises(IntegrityError), transaction.atomic():  # another constraint still raises (SQLite's OR IGNORE would not)
        Insert([Tweet(**{**tweet_values("1600000000000000012", delivery), "text": None})], unique="x_id").run()
    assert not Tweet.objects.filter(x_id="1600000000000000012").exists()


# --- transaction_of_inserts: the Inserts on the DB-API cursor, in a transaction of their own ------


def transaction_open() -> bool:
    """Whether the database connection itself has a transaction open (not Django's view of it)."""
    raw = connection.connection
    if raw is None:
        return False
    if connection.vendor == "sqlite":
        return raw.in_transaction
    return raw.info.transaction_status != 0  # psycopg2: TRANSACTION_STATUS_IDLE


@pytest.mark.django_db(transaction=True)
def test_a_transaction_of_inserts_runs_them_on_its_cursor_and_commits_them():
    delivery, tweet = Delivery(**delivery_values()), None
    with transaction_of_inserts() as cursor:
        assert cursor is not None and not connection.in_atomic_block
        Insert([delivery]).run(cursor)
        tweet = Tweet(**tweet_values("1600000000000000020", delivery))
        assert Insert([tweet], unique="x_id").run(cursor) is True
        assert Insert([Tweet(**tweet_values("1600000000000000020", delivery))], unique="x_id").run(cursor) is False
    by_save = Delivery.objects.create(**delivery_values())
    assert stored(delivery) == stored(by_save)
    tweet_by_save = Tweet.objects.create(**tweet_values("1600000000000000021", by_save))
    assert stored(tweet) == {**stored(tweet_by_save), "x_id": "1600000000000000020", "delivery_id": delivery.pk}
    assert Tweet.objects.filter(x_id="1600000000000000020").count() == 1
    assert not transaction_open()


@pytest.mark.django_db(transaction=True)
def test_a_dbapi_cursor_in_autocommit_commits_each_insert_and_raises_djangos_errors():
    delivery = Delivery(**delivery_values())
    with pytest.raises(IntegrityError), dbapi_cursor() as cursor:
        assert Insert([delivery]).run(cursor) is True
        raw = cursor
        Insert([Tweet(**{**tweet_values("1600000000000000024", delivery), "text": None})]).run(cursor)  # NOT NULL
    assert list(Delivery.objects.values_list("pk", flat=True)) == [delivery.pk]  # committed by itself, kept
    assert not transaction_open() and not Tweet.objects.exists()
    with pytest.raises(Exception, match="closed"):
        raw.execute("SELECT 1")  # closed at the end of the block


@pytest.mark.django_db(transaction=True)
def test_a_failing_insert_rolls_back_the_whole_transaction_and_raises_djangos_error():
    with pytest.raises(IntegrityError), transaction_of_inserts() as cursor:
        delivery = Delivery(**delivery_values())
        Insert([delivery]).run(cursor)
        Insert([Tweet(**{**tweet_values("1600000000000000022", delivery), "text": None})]).run(cursor)  # NOT NULL
    assert not transaction_open() and not Delivery.objects.exists()
    Delivery.objects.create(**delivery_values())  # the connection is back in autocommit: this is committed
    assert Delivery.objects.count() == 1 and not connection.in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_a_failed_commit_is_rolled_back():
    # Foreign keys are checked at COMMIT (deferred, on both databases): a tweet of a delivery that is not there.
    missing = Delivery(pk=987654, **delivery_values())
    with pytest.raises(IntegrityError), transaction_of_inserts() as cursor:
        Insert([Delivery(**delivery_values())]).run(cursor)
        Insert([Tweet(**tweet_values("1600000000000000023", missing))]).run(cursor)
    assert not transaction_open()
    assert not Delivery.objects.exists() and not Tweet.objects.exists()
    Delivery.objects.create(**delivery_values())
    assert Delivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_orm_statement_in_it_is_refused_and_rolls_it_back():
    # The ORM would write as if no transaction were open (on PostgreSQL, an atomic() in it commits it halfway).
    with pytest.raises(transaction.TransactionManagementError, match="only Inserts"), transaction_of_inserts() as cursor:
        Insert([Delivery(**delivery_values())]).run(cursor)
        Delivery.objects.create(**delivery_values())
    assert not transaction_open() and not Delivery.objects.exists()
    with pytest.raises(transaction.TransactionManagementError), transaction_of_inserts() as cursor:
        Insert([Delivery(**delivery_values())]).run()  # without its cursor: through Django's
    assert not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_the_database_ended_itself_keeps_the_error_that_ended_it():
    # SQLite rolls back by itself on a full disk or an I/O error; the ROLLBACK after it fails.
    with pytest.raises(ValueError, match="the real error"), transaction_of_inserts() as cursor:
        Insert([Delivery(**delivery_values())]).run(cursor)
        cursor.execute("ROLLBACK")
        raise ValueError("the real error")
    assert not Delivery.objects.exists()  # on SQLite through a new connection: the old one was closed
    Delivery.objects.create(**delivery_values())
    assert Delivery.objects.count() == 1


def test_inside_an_atomic_block_it_is_part_of_it():
    with transaction.atomic():
        with transaction_of_inserts() as cursor:
            assert cursor is None
            Insert([Delivery(**delivery_values())]).run(cursor)
        assert Delivery.objects.count() == 1
        transaction.set_rollback(True)
    assert not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_watched_connection_and_other_writes_get_djangos_transaction():
    with CaptureQueriesContext(connection) as queries, transaction_of_inserts() as cursor:
        assert cursor is None and connection.in_atomic_block
        Insert([Delivery(**delivery_values())]).run(cursor)
    assert any(query["sql"].startswith("INSERT INTO") for query in queries.captured_queries)
    with transaction_of_inserts(only_inserts=False) as cursor:
        assert cursor is None and connection.in_atomic_block
    assert Delivery.objects.count() == 1


def test_an_interrupt_during_the_rollback_closes_the_connection_and_goes_on():
    class Cursor:
        def execute(self, sql):
            raise KeyboardInterrupt

    class Connection:
        closed = False

        def close(self):
            self.closed = True

    held = Connection()
    with pytest.raises(KeyboardInterrupt):
        _rollback(held, Cursor())
    assert held.closed  # never reused with the transaction it may still hold
