"""SQLite's writer queue: a delivery waits for another process's write to end, and is then let in."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import types
from unittest import mock

import pytest

from bot import writer

HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys
    descriptor = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.readline()  # until the test says let go
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    """
)


def sqlite_file_connection(database) -> types.SimpleNamespace:
    return types.SimpleNamespace(vendor="sqlite", is_in_memory_db=lambda: False, settings_dict={"NAME": str(database)})


@pytest.fixture
def forget_lock_files():
    """The lock files a test opened are closed after it."""
    before = set(writer._LOCK_FILES)
    yield
    for key in set(writer._LOCK_FILES) - before:
        descriptor = writer._LOCK_FILES.pop(key)
        if descriptor is not None:
            os.close(descriptor)


@pytest.mark.skipif(writer.fcntl is None, reason="no flock on this system")
def test_a_write_waits_while_another_process_holds_the_database_and_goes_in_when_it_lets_go(tmp_path, forget_lock_files):
    database = tmp_path / "db.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"{database}-writer.lock"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    entered = threading.Event()

    def write() -> None:
        with mock.patch.object(writer.transaction, "get_connection", return_value=sqlite_file_connection(database)), writer.one_writer():
            entered.set()

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiting = threading.Thread(target=write)
        waiting.start()
        assert not entered.wait(timeout=0.5)  # the other process holds it
        assert holder.stdin is not None
        holder.stdin.write("let go\n")
        holder.stdin.flush()
        assert entered.wait(timeout=10)
        waiting.join(timeout=10)
    finally:
        holder.kill() if holder.poll() is None else None
        holder.wait(timeout=10)


def test_a_lock_file_that_cannot_be_opened_leaves_the_queue_to_sqlite(tmp_path, caplog, forget_lock_files):
    unwritable = tmp_path / "no-such-folder" / "db.sqlite3"
    with mock.patch.object(writer.transaction, "get_connection", return_value=sqlite_file_connection(unwritable)), writer.one_writer():
        pass
    assert writer._LOCK_FILES[(os.getpid(), str(unwritable))] is None
    assert "queue at SQLite's own lock" in caplog.text


def test_other_databases_and_memory_are_not_queued_across_processes(tmp_path):
    memory = types.SimpleNamespace(vendor="sqlite", is_in_memory_db=lambda: True, settings_dict={"NAME": ":memory:"})
    for connection in (types.SimpleNamespace(vendor="postgresql"), memory):
        with mock.patch.object(writer.transaction, "get_connection", return_value=connection), writer.one_writer():
            pass
    assert not list(tmp_path.iterdir()) and not any(name == ":memory:" for _pid, name in writer._LOCK_FILES)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")
def test_a_forked_child_starts_with_a_free_lock_and_no_lock_files(tmp_path, forget_lock_files):
    with mock.patch.object(writer.transaction, "get_connection", return_value=sqlite_file_connection(tmp_path / "db.sqlite3")):
        with writer.one_writer():
            pid = os.fork()
            if pid == 0:  # the child, forked while this thread holds the lock
                os._exit(0 if not writer._THREADS.locked() and not writer._LOCK_FILES else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
