"""On SQLite, deliveries are written one at a time, queued on locks that wake the next at once.

SQLite has one writer at a time, and a connection that finds the write lock taken sleeps
(1, 2, 5, 10 ms and longer) before it looks again: under a burst the webhook's threads, and
the server's other worker processes, spent most of their time asleep. Queued here instead,
each is woken the moment the one before it commits: threads of one process on a thread lock,
processes on an advisory lock (flock) of a file beside the database, which the kernel hands
to the next waiter when it is released. The dispatch threads' writes still meet at SQLite's
own lock. On PostgreSQL, and for an in-memory database (tests), nothing is queued.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

try:
    import fcntl
except ImportError:  # Windows: the thread lock alone, as before
    fcntl = None  # type: ignore[assignment]

_THREADS = threading.Lock()
_LOCK_FILES: dict[tuple[int, str], int] = {}  # (process id, database path) -> its open lock file


@contextmanager
def one_writer() -> Iterator[None]:
    connection = transaction.get_connection()
    if connection.vendor != "sqlite":
        yield
        return
    with _THREADS:
        descriptor = None if connection.is_in_memory_db() or fcntl is None else _lock_file(str(connection.settings_dict["NAME"]))
        if descriptor is None:
            yield
            return
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # blocks without the GIL until the other process commits
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def _lock_file(database: str) -> int:
    """The lock file of this database, opened once per process (under _THREADS).

    Per process: a worker forked with its parent's descriptor would share the parent's lock
    (flock belongs to the open file), and so not exclude it."""
    key = (os.getpid(), database)
    if key not in _LOCK_FILES:
        _LOCK_FILES[key] = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return _LOCK_FILES[key]
