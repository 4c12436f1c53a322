"""SQLite's writer queue: a delivery waits for another process's write to end, and is then let in."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from pathlib import Path
from unittest import mock

import pytest

from bot.services import writer

HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    print("held", flush=True)
    time.sleep(0.5)
    with open(sys.argv[2], "w") as done:
        done.write("released")
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    """
)


def sqlite_file_connection(database: Path) -> types.SimpleNamespace:
    return types.SimpleNamespace(vendor="sqlite", is_in_memory_db=lambda: False, settings_dict={"NAME": str(database)})


@pytest.mark.skipif(writer.fcntl is None, reason="no flock on this system")
def test_a_write_waits_for_another_process_holding_the_database(tmp_path):
    database, released = tmp_path / "db.sqlite3", tmp_path / "released"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, f"{database}-writer.lock", str(released)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with mock.patch.object(writer.transaction, "get_connection", return_value=sqlite_file_connection(database)), writer.one_writer():
            # Let in only once the other process wrote that it was done, and let go.
            assert released.read_text() == "released"
    finally:
        holder.wait(timeout=10)
    assert holder.returncode == 0


def test_other_databases_and_memory_are_not_queued_across_processes(tmp_path):
    memory = types.SimpleNamespace(vendor="sqlite", is_in_memory_db=lambda: True, settings_dict={"NAME": ":memory:"})
    for connection in (types.SimpleNamespace(vendor="postgresql"), memory):
        with mock.patch.object(writer.transaction, "get_connection", return_value=connection), writer.one_writer():
            pass
    assert not list(tmp_path.iterdir()) and not any(name == ":memory:" for _pid, name in writer._LOCK_FILES)
