"""How work leaves the request: inline, on a background thread, or (tested in test_tasks) on Lambda."""

import os
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from bot import dispatch, services

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
