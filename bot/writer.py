"""On SQLite, deliveries are written one at a time, queued on locks that wake the next at once.

SQLite has one writer at a time, and a connection that finds the write lock taken sleeps
(1, 2, 5, 10 ms and longer) before it looks again: under a burst the webhook's threads, and
the server's other worker processes, spent most of their time asleep. Queued here instead,
each is woken the moment the one before it commits: threads of one process on a thread lock,
processes on an advisory lock (flock) of a file beside the database, `<database>-writer.lock`,
which the kernel hands to the next waiter when it is let go (or its process dies). The lock
covers the transaction only: recording holds its dispatches until it is let go
(dispatch.dispatches_held). The dispatch threads' writes still meet at SQLite's own lock.

On PostgreSQL nothing is queued. With an in-memory database (tests), or where the lock file
cannot be opened (a database directory this user may not write, Windows), threads queue on
the thread lock alone and processes at SQLite's lock, as before.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_THREADS = threading.Lock()
# (process id, database path) -> its open lock file, or None where it cannot be opened.
_LOCK_FILES: dict[tuple[int, str], int | None] = {}


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
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # waits without the GIL until the other process lets go
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def _lock_file(database: str) -> int | None:
    """The lock file of this database, opened once per process (under _THREADS).

    Per process: a worker forked with its parent's descriptor would share the parent's lock
    (flock belongs to the open file), and so not exclude it. Read-only and writable by whoever
    may write the database (the umask decides), since flock needs no more; a user who may not
    open it queues at SQLite's lock instead."""
    key = (os.getpid(), database)
    if key not in _LOCK_FILES:
        path = f"{database}-writer.lock"
        try:
            _LOCK_FILES[key] = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            logger.warning("SQLite writers of this process queue at SQLite's own lock: %s cannot be opened (%s)", path, exc)
            _LOCK_FILES[key] = None
    return _LOCK_FILES[key]


def _forget_after_fork() -> None:
    """A forked child starts with a free thread lock (another thread may have held it) and none of its parent's lock files."""
    global _THREADS
    _THREADS = threading.Lock()
    for descriptor in _LOCK_FILES.values():
        if descriptor is not None:
            os.close(descriptor)
    _LOCK_FILES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
