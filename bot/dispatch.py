"""The one seam through which work leaves the request: dispatch(job, tweet_pk).

A job is a service function registered with @job, passed by reference; across a Lambda
invocation it travels as its registered name, and run_job refuses any other name.

How it runs is IMAGEBOT_DISPATCH (bot.conf.dispatch_mode):
- inline: called right away, in this thread (tests, management commands);
- thread: a few background threads (`make run`), so the webhook answers at once. They are
  bounded so they cannot starve the webhook: IMAGEBOT_DISPATCH_WORKERS threads (half the
  CPUs by default) at a lower CPU priority, and a queue of IMAGEBOT_DISPATCH_QUEUE jobs.
  When the queue is full a job is not run and not lost: its tweet waits in the database,
  in its non-final state, and the sweeper dispatches it again later (back-pressure);
- lambda: an asynchronous Lambda invocation through Zappa (bot.tasks.run_job).
Jobs take ids, never objects, and every job is safe to run twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string

from bot import conf

logger = logging.getLogger(__name__)

Job = Callable[[int], Any]
J = TypeVar("J", bound=Job)

# Registered jobs by name: the only functions a dispatch (or a forged invocation) can run.
JOBS: dict[str, Job] = {}

_queue: queue.Queue[tuple[str, int]] | None = None
_held: contextvars.ContextVar[list[tuple[Job, int]] | None] = contextvars.ContextVar("dispatches_held", default=None)
_queue_lock = threading.Lock()
# Background threads run at this much lower priority (Linux nice), so the webhook's
# threads get the CPU first when both want it.
WORKER_NICENESS = 10


def job(func: J) -> J:
    """Register a service function that takes a tweet's pk as a job."""
    JOBS[func.__name__] = func
    return func


def _job_name(func: Job) -> str:
    name = getattr(func, "__name__", "")
    if JOBS.get(name) is not func:
        raise ValueError(f"{func!r} is not a registered job")
    return name


def run_job(name: str, tweet_pk: int) -> None:
    """Run one job now, by its registered name. Other names are refused, so a forged invocation runs nothing else."""
    if name not in JOBS:
        raise ValueError(f"unknown job {name!r}")
    JOBS[name](tweet_pk)


def dispatch(job: Job, tweet_pk: int) -> None:
    mode = conf.dispatch_mode()
    name = _job_name(job)
    if mode == "inline":
        run_job(name, tweet_pk)
    elif mode == "thread":
        try:
            _job_queue().put_nowait((name, tweet_pk))
        except queue.Full:
            # Back-pressure: the tweet keeps its non-final state, and the sweeper dispatches it again.
            logger.warning("dispatch queue full: %s for tweet pk %s is left for the sweeper", name, tweet_pk)
    else:
        # Zappa's @task in the Lambda entry points: an asynchronous invocation on Lambda.
        # Named, not imported: bot.tasks sits above the services that dispatch.
        import_string("bot.tasks.run_job")(name, tweet_pk)


def dispatch_on_commit(job: Job, tweet_pk: int) -> None:
    """Dispatch once the surrounding transaction has committed (never for a rolled-back row)."""
    held = _held.get()
    if held is not None:
        held.append((job, tweet_pk))
        return
    transaction.on_commit(partial(_dispatch_committed, job, tweet_pk))


@contextlib.contextmanager
def dispatches_held() -> Iterator[None]:
    """Hold the block's dispatches until it ends, then dispatch them on commit; drop them if it raises.

    For a block that holds a lock through its own transaction (SQLite's writer queue): on-commit
    work registered inside it would run as the transaction ends, still under the lock, and an
    inline dispatch runs a whole tweet's pipeline there. Held, it runs once the lock is let go
    (at once, or when an enclosing transaction commits).
    """
    held: list[tuple[Job, int]] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    for job, tweet_pk in held:
        dispatch_on_commit(job, tweet_pk)


def _dispatch_committed(job: Job, tweet_pk: int) -> None:
    # The rows are committed: a failure here (Lambda throttling the invocation, a bug in an
    # inline run) must neither turn the delivery's answer into an error nor stop the other
    # dispatches of the same commit. What was not done stays in its row for the sweeper.
    try:
        dispatch(job, tweet_pk)
    except Exception:
        logger.exception(
            "%s for tweet %s could not be dispatched; its row keeps the work for the sweeper", getattr(job, "__name__", job), tweet_pk
        )


def _job_queue() -> queue.Queue[tuple[str, int]]:
    """The bounded queue of this process, its worker threads started with it."""
    global _queue
    with _queue_lock:
        if _queue is None:
            _queue = queue.Queue(maxsize=conf.dispatch_queue())
            for number in range(conf.dispatch_workers()):
                threading.Thread(target=_work, args=(_queue,), name=f"imagebot-{number}", daemon=True).start()
        return _queue


def _work(jobs: queue.Queue[tuple[str, int]]) -> None:
    if sys.platform == "linux":  # there a thread's id is a task's: only this thread is reniced
        with contextlib.suppress(OSError):  # not allowed here: the thread keeps the process's priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
    while True:
        name, tweet_pk = jobs.get()
        try:
            _run_in_thread(name, tweet_pk)
        finally:
            jobs.task_done()


def _run_in_thread(name: str, tweet_pk: int) -> None:
    try:
        run_job(name, tweet_pk)
    except Exception:  # the sweeper picks the tweet up again; the error is on its row
        logger.exception("job %s for tweet pk %s failed", name, tweet_pk)
    finally:
        close_old_connections()
