"""The one seam through which work leaves the request: dispatch(job, tweet_pk).

How it runs is IMAGEBOT_DISPATCH (bot.conf.dispatch_mode):
- inline: called right away, in this thread (tests, management commands);
- thread: a small pool of background threads (`make run`), so the webhook answers at once;
- lambda: an asynchronous Lambda invocation through Zappa (bot.tasks.run_job).
Jobs take ids, never objects, and every job is safe to run twice.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string

from bot import conf

log = logging.getLogger(__name__)

JOBS = {
    "tweet_process": "bot.services.tweet_process",
    "tweet_photos_delete": "bot.services.tweet_photos_delete",
}

_pool: ThreadPoolExecutor | None = None


def run_job(job: str, tweet_pk: int) -> None:
    """Run one job now. Unknown job names are refused, so a forged invocation can run nothing else."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    import_string(JOBS[job])(tweet_pk)


def dispatch(job: str, tweet_pk: int) -> None:
    mode = conf.dispatch_mode()
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    if mode == "inline":
        run_job(job, tweet_pk)
    elif mode == "thread":
        _thread_pool().submit(_run_in_thread, job, tweet_pk)
    else:
        # Zappa's @task: an asynchronous invocation of this function on Lambda.
        import_string("bot.tasks.run_job")(job, tweet_pk)


def dispatch_on_commit(job: str, tweet_pk: int) -> None:
    """Dispatch once the surrounding transaction has committed (never for a rolled-back row)."""
    transaction.on_commit(partial(_dispatch_committed, job, tweet_pk))


def _dispatch_committed(job: str, tweet_pk: int) -> None:
    # The rows are committed: a failure here (Lambda throttling the invocation, a bug in an
    # inline run) must neither turn the delivery's answer into an error nor stop the other
    # dispatches of the same commit. What was not done stays in its row for the sweeper.
    try:
        dispatch(job, tweet_pk)
    except Exception:
        log.exception("%s for tweet %s could not be dispatched; its row keeps the work for the sweeper", job, tweet_pk)


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imagebot")
    return _pool


def _run_in_thread(job: str, tweet_pk: int) -> None:
    try:
        run_job(job, tweet_pk)
    except Exception:  # the sweeper picks the tweet up again; the error is on its row
        log.exception("job %s for tweet pk %s failed", job, tweet_pk)
    finally:
        close_old_connections()
