"""bot.checks: a bad setting stops the bot before it accepts work, every problem on one line.

Grouped by concern: what the system check reports (each kind of bad value, all at once,
values that do not work together), then each way the bot starts: manage.py, gunicorn
through imagebot_site.wsgi, and a Lambda cold start through Zappa's own handler.
try_mention's own refusal is in tests/management/test_commands.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from bot import conf
from bot.checks import SETTINGS_TAG
from tests.fixtures.aws import fake_aws_environ

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_settings_from_outside(monkeypatch):
    """Only the values a test sets: none from the shell that runs the suite."""
    for name in conf.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)


ON_LAMBDA_DATABASE = "postgres://imagebot@db.example.com:5432/imagebot"


def reported() -> list[str]:
    """What the registered system check says, through Django's check framework."""
    messages = checks.run_checks(tags=[SETTINGS_TAG])
    assert all(message.level == checks.ERROR and message.id == "imagebot.E001" for message in messages)
    return [message.msg for message in messages]


# --- What the check reports ----------------------------------------------------------------


def test_the_defaults_pass():
    assert reported() == []


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("IMAGEBOT_MAX_LABELS", "abc", "IMAGEBOT_MAX_LABELS='abc': must be a whole number from 1 to 1,000"),
        ("IMAGEBOT_MAX_LABELS", "2.5", "IMAGEBOT_MAX_LABELS='2.5': must be a whole number from 1 to 1,000"),
        ("IMAGEBOT_SWEEP_AFTER_SECONDS", "1", "IMAGEBOT_SWEEP_AFTER_SECONDS='1': must be a whole number of seconds from 10 to 604,800"),
        ("IMAGEBOT_MIN_CONFIDENCE", "101", "IMAGEBOT_MIN_CONFIDENCE='101': must be a number from 0 to 100"),
        ("IMAGEBOT_MODERATION_MIN_CONFIDENCE", "nan", "IMAGEBOT_MODERATION_MIN_CONFIDENCE='nan': must be a number from 0 to 100"),
        ("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "inf", "IMAGEBOT_MEDIA_TOTAL_TIMEOUT='inf': must be a number of seconds from 0.1 to 600"),
        ("IMAGEBOT_KEEP_PHOTOS", "maybe", "IMAGEBOT_KEEP_PHOTOS='maybe': must be one of 1/0, true/false, yes/no, on/off"),
        ("IMAGEBOT_DISPATCH", "threads", "IMAGEBOT_DISPATCH='threads': must be one of inline, thread, lambda"),
        ("X_API_BASE_URL", "api.x.com", "X_API_BASE_URL='api.x.com': must be an https:// or http:// URL with a host"),
        (
            "X_WEBHOOK_URL",
            "http://bot.example.com/webhooks/x/",
            "X_WEBHOOK_URL='http://bot.example.com/webhooks/x/': must be an https:// URL with a host",
        ),
        (
            "IMAGEBOT_MEDIA_URL_PREFIXES",
            "https://pbs.twimg.com/,pbs.twimg.com/",
            "IMAGEBOT_MEDIA_URL_PREFIXES='https://pbs.twimg.com/,pbs.twimg.com/': "
            "must be a comma-separated list of https:// or http:// URLs, each with a host",
        ),
        ("AWS_REGION", "US East", "AWS_REGION='US East': must be an AWS region name such as us-east-1"),
        (
            "AWS_STORAGE_BUCKET_NAME",
            "My_Photos",
            "AWS_STORAGE_BUCKET_NAME='My_Photos': must be an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)",
        ),
    ],
    ids=lambda value: value if " " not in value else "",
)
def test_a_bad_value_is_one_line_naming_the_variable_its_value_and_its_range(monkeypatch, name, value, line):
    monkeypatch.setenv(name, value)

    assert reported() == [line]


def test_a_value_with_a_newline_still_makes_one_line(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_ATTEMPTS", "5\nIMAGEBOT_FAKE=1")

    (line,) = reported()
    assert "\n" not in line and line.startswith("IMAGEBOT_MAX_ATTEMPTS='5\\nIMAGEBOT_FAKE=1': must be")


def test_every_problem_is_reported_at_once_not_only_the_first(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "abc")
    monkeypatch.setenv("IMAGEBOT_SWEEP_AFTER_SECONDS", "1")
    monkeypatch.setenv("IMAGEBOT_KEEP_PHOTOS", "maybe")

    assert sorted(line.split("=")[0] for line in reported()) == [
        "IMAGEBOT_KEEP_PHOTOS",
        "IMAGEBOT_MAX_LABELS",
        "IMAGEBOT_SWEEP_AFTER_SECONDS",
    ]


@pytest.mark.parametrize("name", [name for name, setting in conf.SETTINGS.items() if setting.allowed != "any text"])
def test_every_registered_setting_is_checked(monkeypatch, name):
    monkeypatch.setenv(name, "not allowed")

    assert reported() == [f"{name}='not allowed': must be {conf.SETTINGS[name].allowed}"]


# --- Values that are each allowed but do not work together ------------------------------------


def test_s3_events_without_a_bucket_are_refused(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "on")

    assert reported() == [
        "IMAGEBOT_S3_EVENTS='on': must be off without AWS_STORAGE_BUCKET_NAME "
        "(only a bucket sends S3 events; recognition would wait for events that never come)"
    ]
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "imagebot-photos")
    assert reported() == []


def test_background_threads_are_refused_on_lambda(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "thread")
    assert reported() == []  # a machine of your own

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "imagebot-dev")
    monkeypatch.setenv("DATABASE_URL", ON_LAMBDA_DATABASE)
    assert reported() == [
        "IMAGEBOT_DISPATCH='thread': must be lambda or inline on Lambda (a background thread is frozen when the invocation returns)"
    ]


SQLITE_ON_LAMBDA = (
    ": must be a PostgreSQL URL on Lambda (SQLite cannot work there: each execution environment "
    "has its own /tmp, lost when it ends, and the code folder is read-only)"
)


@pytest.mark.parametrize(
    ("database_url", "shown"),
    [(None, "DATABASE_URL (unset: SQLite, db.sqlite3)"), ("sqlite:////tmp/db.sqlite3", "DATABASE_URL='sqlite:////tmp/db.sqlite3'")],
)
def test_sqlite_is_refused_on_lambda(monkeypatch, database_url, shown):
    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    assert reported() == []  # a machine of your own

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "imagebot-dev")
    assert reported() == [shown + SQLITE_ON_LAMBDA]

    monkeypatch.setenv("DATABASE_URL", ON_LAMBDA_DATABASE)
    assert reported() == []


def test_posting_replies_needs_the_x_credentials(monkeypatch):
    monkeypatch.setenv("X_DRY_RUN", "off")
    monkeypatch.setenv("X_ACCESS_TOKEN", "1-token")

    assert reported() == [
        "X_DRY_RUN='off': replies are posted, so X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN_SECRET must be set (or X_DRY_RUN on)"
    ]
    for name in ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN_SECRET"):
        monkeypatch.setenv(name, "set")
    assert reported() == []


def test_a_rule_across_settings_waits_for_its_values_to_be_valid(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_S3_EVENTS", "maybe")  # the rule reads it: only its own line, no crash
    monkeypatch.setenv("X_DRY_RUN", "0")

    assert reported() == [
        "IMAGEBOT_S3_EVENTS='maybe': must be one of 1/0, true/false, yes/no, on/off",
        "X_DRY_RUN='0': replies are posted, so X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET "
        "must be set (or X_DRY_RUN on)",
    ]


# --- manage.py --------------------------------------------------------------------------------


def test_manage_py_check_stops_with_the_one_line_messages(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "abc")
    monkeypatch.setenv("IMAGEBOT_SWEEP_AFTER_SECONDS", "1")

    with pytest.raises(SystemCheckError) as refused:
        call_command("check", stdout=StringIO(), stderr=StringIO())

    lines = str(refused.value).splitlines()
    assert "?: (imagebot.E001) IMAGEBOT_MAX_LABELS='abc': must be a whole number from 1 to 1,000" in lines
    assert "?: (imagebot.E001) IMAGEBOT_SWEEP_AFTER_SECONDS='1': must be a whole number of seconds from 10 to 604,800" in lines


def start(*command: str, **environ: str) -> subprocess.CompletedProcess:
    """Run `command` from the repository with only these variables (and a settings module), as a fresh start.

    A server that does start is stopped after 30 s (TimeoutExpired): it should not have.
    """
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "imagebot_site.settings", **environ}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


def test_a_management_command_stops_before_its_work_without_a_traceback():
    result = start(sys.executable, "manage.py", "sweep", IMAGEBOT_SWEEP_AFTER_SECONDS="1")

    assert result.returncode == 1 and result.stdout == ""
    assert "IMAGEBOT_SWEEP_AFTER_SECONDS='1': must be a whole number of seconds from 10 to 604,800" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_log_level_is_one_line_too_not_a_crash_of_logging_set_up():
    result = start(sys.executable, "manage.py", "sweep", IMAGEBOT_LOG_LEVEL="loud")

    assert result.returncode == 1 and result.stdout == ""
    assert "IMAGEBOT_LOG_LEVEL='loud': must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in result.stderr
    assert "Traceback" not in result.stderr


# --- gunicorn, through imagebot_site.wsgi --------------------------------------------------------


def test_gunicorn_refuses_to_start_with_a_bad_setting():
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))

    result = start(gunicorn, "--bind", "127.0.0.1:0", "--workers", "1", "imagebot_site.wsgi", IMAGEBOT_MAX_LABELS="abc")

    assert result.returncode == 3  # gunicorn's "worker failed to boot": the whole server stops
    assert "Reason: Worker failed to boot." in result.stderr
    assert "imagebot.E001: IMAGEBOT_MAX_LABELS='abc': must be a whole number from 1 to 1,000" in result.stderr.splitlines()


def test_the_wsgi_application_loads_with_good_settings():
    result = start(sys.executable, "-c", "import imagebot_site.wsgi as wsgi; print(callable(wsgi.application))")

    assert (result.returncode, result.stdout.strip()) == (0, "True"), result.stderr


# --- A Lambda cold start, through Zappa's own handler ---------------------------------------------

# A fresh Python for each start: a cold start happens once per process, and this one's Django is set up.
COLD_START = """
import json, sys, types
from zappa.cli import ZappaCLI

cli = ZappaCLI()
cli.api_stage = "dev"
cli.load_credentials = False
cli.load_settings(settings_file=sys.argv[1])
settings = types.ModuleType("zappa_settings")
exec(cli.get_zappa_settings_string(), settings.__dict__)
settings.REMOTE_ENV = None  # the stage's remote env file is on S3: its values come from the environment here
sys.modules["zappa_settings"] = settings

from zappa import handler

context = types.SimpleNamespace(
    function_name=cli.lambda_name,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:" + cli.lambda_name,
    aws_request_id="c0ffee",
    get_remaining_time_in_millis=lambda: 59_000,
)
print("ANSWERED", json.dumps(handler.lambda_handler(json.loads(sys.argv[2]), context)))
"""


def cold_start(event: dict, tmp_path: Path, **environ: str) -> subprocess.CompletedProcess:
    """A cold start of the dev stage of zappa_settings.json, then `event`, in a fresh process."""
    aws = {name: value for name, value in fake_aws_environ().items() if value is not None}
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "imagebot-dev",
        "DJANGO_SECRET_KEY": "from-the-remote-env-file",
        "DATABASE_URL": ON_LAMBDA_DATABASE,  # never connected to: neither start below queries
        **aws,
        "AWS_DEFAULT_REGION": "us-east-1",
        **environ,
    }
    command = [sys.executable, "-c", COLD_START, str(ROOT / "zappa_settings.json"), json.dumps(event)]
    # Zappa's CLI looks through the working directory for websocket handlers: an empty one.
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_lambda_cold_start_with_a_bad_setting_fails_in_one_line_per_problem_and_runs_nothing(tmp_path):
    result = cold_start({"command": "bot.tasks.sweep"}, tmp_path, IMAGEBOT_SWEEP_AFTER_SECONDS="1", IMAGEBOT_KEEP_PHOTOS="maybe")

    assert result.returncode == 1 and "ANSWERED" not in result.stdout  # the sweeper never ran
    assert result.stderr.splitlines()[-3:] == [
        "imagebot refuses to start:",
        "imagebot.E001: IMAGEBOT_KEEP_PHOTOS='maybe': must be one of 1/0, true/false, yes/no, on/off",
        "imagebot.E001: IMAGEBOT_SWEEP_AFTER_SECONDS='1': must be a whole number of seconds from 10 to 604,800",
    ]
    assert "Traceback" not in result.stderr


def test_a_lambda_cold_start_on_sqlite_fails_in_one_line_and_runs_nothing(tmp_path):
    result = cold_start({"command": "bot.tasks.sweep"}, tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert result.returncode == 1 and "ANSWERED" not in result.stdout
    assert result.stderr.splitlines()[-1] == f"imagebot.E001: DATABASE_URL='sqlite:///{tmp_path / 'db.sqlite3'}'" + SQLITE_ON_LAMBDA
    assert not (tmp_path / "db.sqlite3").exists()


def test_a_lambda_cold_start_with_good_settings_answers(tmp_path):
    result = cold_start({"command": "bot.checks.settings_problems"}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "ANSWERED []" in result.stdout


def test_a_sqlite_too_old_for_insert_returning_is_refused_at_start(monkeypatch):
    import sqlite3

    from bot.checks import start_errors

    assert not [line for line in start_errors() if "imagebot.E002" in line]  # this machine's SQLite will do
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    from django.db import connection

    expected = [
        "imagebot.E002: database 'default': SQLite 3.31.1 is older than 3.35, which imagebot needs (INSERT ... RETURNING)"
        " (hint: use a Python built with a newer SQLite, or PostgreSQL (DATABASE_URL))"
    ]
    found = [line for line in start_errors() if line.startswith("imagebot.E002")]
    assert found == (expected if connection.vendor == "sqlite" else [])  # on PostgreSQL, SQLite's age does not matter
