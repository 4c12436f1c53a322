"""How work leaves the request: inline, on a background thread, or (tested in test_tasks) on Lambda."""

import os
import queue
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from bot import conf, dispatch, services
from bot.events import samples
from bot.models import Reply, Tweet
from tests.fixtures.pipeline import age

ran = []
done = threading.Event()


def record_job(tweet_pk: int) -> None:
    ran.append((tweet_pk, threading.current_thread().name))
    done.set()


@pytest.fixture
def recording_job(monkeypatch):
    ran.clear()
    done.clear()
    monkeypatch.setitem(dispatch.JOBS, "record_job", record_job)


def test_inline_runs_the_job_at_once_in_this_thread(recording_job, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")
    dispatch.dispatch(record_job, 7)
    assert ran == [(7, threading.current_thread().name)]


def test_thread_runs_the_job_off_the_calling_thread(recording_job, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "thread")
    dispatch.dispatch(record_job, 8)
    assert done.wait(timeout=10)
    [(pk, thread_name)] = ran
    assert pk == 8 and thread_name.startswith("imagebot") and thread_name != threading.current_thread().name


def test_an_unknown_job_is_refused(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")
    with pytest.raises(ValueError, match="not a registered job"):
        dispatch.dispatch(os.system, 1)
    with pytest.raises(ValueError, match="unknown job"):
        dispatch.run_job("os.system", 1)


def test_a_function_named_like_a_job_is_not_that_job(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")

    def tweet_process(tweet_pk):  # same name as the registered job, another function
        raise AssertionError("an impostor ran")

    with pytest.raises(ValueError, match="not a registered job"):
        dispatch.dispatch(tweet_process, 1)


def test_the_services_register_their_jobs_by_reference():
    assert {"tweet_process": services.tweet_process, "tweet_photos_delete": services.tweet_photos_delete} == dispatch.JOBS


def test_a_bad_dispatch_mode_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "carrier-pigeon")
    with pytest.raises(ImproperlyConfigured, match="IMAGEBOT_DISPATCH"):
        dispatch.dispatch(services.tweet_process, 1)


# --- Back-pressure: a bounded queue, work left in the database for the sweeper ------------


@pytest.fixture
def full_queue(monkeypatch):
    """This process's job queue, bounded and full, with no thread taking from it."""
    jobs: queue.Queue[tuple[str, int]] = queue.Queue(maxsize=1)
    jobs.put_nowait(("record_job", 0))
    monkeypatch.setattr(dispatch, "_queue", jobs)
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "thread")
    return jobs


def test_thread_workers_default_to_half_the_cpus_and_at_least_one(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert conf.dispatch_workers() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert conf.dispatch_workers() == 1
    monkeypatch.setenv("IMAGEBOT_DISPATCH_WORKERS", "3")
    assert conf.dispatch_workers() == 3


def test_a_job_past_the_full_queue_is_neither_run_nor_queued(recording_job, full_queue):
    dispatch.dispatch(record_job, 9)
    assert ran == [] and list(full_queue.queue) == [("record_job", 0)]


@pytest.mark.django_db
def test_with_the_queue_full_a_new_tweet_is_recorded_and_the_sweeper_later_processes_it(
    full_queue, post_signed, django_capture_on_commit_callbacks, sweep, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(samples.delivery(samples.tweet(photos=0)))

    assert response.status_code == 200
    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.attempts) == (Tweet.Status.RECEIVED, 0)  # recorded, not run inline
    assert list(full_queue.queue) == [("record_job", 0)]  # and not queued past the bound

    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")  # the sweeper, as `manage.py sweep` runs it
    age(tweet)
    assert sweep()["redispatched"] == 1
    tweet.refresh_from_db()
    assert (tweet.status, tweet.reply.status) == (Tweet.Status.DONE, Reply.Status.DRY_RUN)


@pytest.mark.django_db(transaction=True)  # no enclosing transaction: a dispatch on commit runs at once
def test_held_dispatches_wait_for_the_block_to_end_and_are_dropped_when_it_raises(recording_job, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")
    with dispatch.dispatches_held():
        dispatch.dispatch_on_commit(record_job, 1)
        dispatch.dispatch_on_commit(record_job, 2)
        assert ran == []  # not while the block runs
    assert [pk for pk, _thread in ran] == [1, 2]
    with pytest.raises(RuntimeError), dispatch.dispatches_held():
        dispatch.dispatch_on_commit(record_job, 3)
        raise RuntimeError("rolled back")
    assert [pk for pk, _thread in ran] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_an_inline_pipeline_runs_after_the_sqlite_writer_queue_is_let_go(monkeypatch):
    from bot import writer

    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")
    queue_held_while_processing = []
    monkeypatch.setattr(dispatch, "dispatch", lambda job, tweet_pk: queue_held_while_processing.append(writer._THREADS.locked()))
    services.delivery_record(body=b"{}", payload=samples.delivery(samples.tweet(author_id="1600000000000000005")))
    assert queue_held_while_processing == [False]  # committed, dispatched, and the queue free for the next delivery
