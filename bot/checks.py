"""The bot refuses to start with a bad setting: a Django system check, and the starts that run it.

`settings_check` is registered by bot.apps.BotConfig, so `manage.py check`, every
management command (Django runs the checks first), `runserver` and `migrate` report
every bad value before doing anything, one line each: the variable, its value and what
it must be. Servers start through `refuse_to_start_on_errors()` (imagebot_site/wsgi.py,
for gunicorn) and, on Lambda, through BotConfig.ready, which runs once per cold start.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from bot import conf

SETTINGS_TAG = "imagebot_settings"

# Rules that read several settings at once. Each is skipped while a value it reads is bad
# (that value has its own line). A new rule across settings is one more entry here.
RULES: tuple[Callable[[], list[str]], ...] = (*conf.COMBINATION_RULES,)


def settings_problems() -> list[str]:
    """Every problem with the settings, one line each."""
    return conf.settings_problems(RULES)


def settings_check(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check: an error per bad setting (they are read from the environment, not per app)."""
    return [checks.Error(problem, id="imagebot.E001") for problem in settings_problems()]


SQLITE_OLDEST = (3, 35)  # INSERT ... RETURNING, which the webhook's inserts need (bot.inserting)


def database_check(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """SQLite older than 3.35 (Django allows 3.31) would refuse every delivery's insert: refused at start instead."""
    from django.db import connections

    problems: list[checks.CheckMessage] = []
    for alias in connections:
        if connections.settings[alias]["ENGINE"] == "django.db.backends.sqlite3":
            import sqlite3

            if sqlite3.sqlite_version_info < SQLITE_OLDEST:
                problems.append(
                    checks.Error(
                        f"database {alias!r}: SQLite {sqlite3.sqlite_version} is older than 3.35, "
                        "which imagebot needs (INSERT ... RETURNING)",
                        hint="use a Python built with a newer SQLite, or PostgreSQL (DATABASE_URL)",
                        id="imagebot.E002",
                    )
                )
    return problems


def _lines(messages: Iterable[checks.CheckMessage]) -> list[str]:
    return [f"{message.id}: {message.msg}" + (f" (hint: {message.hint})" if message.hint else "") for message in messages]


def start_errors(*, tags: Sequence[str] | None = None) -> list[str]:
    """The errors the system checks (all of them, or those with `tags`) find, one line each."""
    found = checks.run_checks(tags=tags)
    return _lines(message for message in found if message.is_serious() and not message.is_silenced())


def refuse_to_start_on_errors() -> None:
    """For a server's start (gunicorn imports imagebot_site.wsgi): every system check, and no start on an error.

    The exception makes gunicorn's worker fail to boot, and gunicorn then stops instead of
    starting workers that would fail the same way.
    """
    errors = start_errors()
    if errors:
        raise ImproperlyConfigured("imagebot refuses to start:\n" + "\n".join(errors))


def refuse_to_start_on_lambda() -> None:
    """A Lambda cold start with a bad setting ends the whole execution environment.

    An exception would not do: Zappa keeps its handler once the cold start began, so the
    next event in the same warm environment would run on it without the check. Exiting
    makes Lambda start afresh (and check again) for every event until the setting is fixed;
    the log shows one line per problem, without a traceback. Only the settings check runs
    here, the cheap one whose answer depends on the environment.
    """
    errors = start_errors(tags=[SETTINGS_TAG])
    if errors:
        for line in ["imagebot refuses to start:", *errors]:
            print(line, file=sys.stderr)
        sys.stderr.flush()
        raise SystemExit(1)
