"""What the benchmarks share: a throwaway work folder and database, Django set up for measuring.

Default database: a fresh SQLite file in the work folder. With BENCH_DATABASE_URL (say,
PostgreSQL) a bench works in Django's throwaway test database ("test_<name>"), created
and dropped by `database()`: the database the URL names is never written to.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure(**env: str) -> str:
    """Set the environment before Django starts; returns the work folder (removed at exit)."""
    sys.path.insert(0, str(ROOT))
    workdir = tempfile.mkdtemp(prefix="imagebot-bench-")
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="imagebot_site.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-only",
        DJANGO_ALLOWED_HOSTS="testserver",
        IMAGEBOT_DISPATCH="inline",
        IMAGEBOT_LOG_LEVEL="WARNING",
        **env,
    )
    return workdir


@contextmanager
def database():
    """A migrated database of the bench's own, for as long as the block runs."""
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0)  # a fresh file in the work folder
        yield
        return
    created = setup_databases(verbosity=0, interactive=False)
    try:
        yield
    finally:
        teardown_databases(created, verbosity=0)
