"""Settings come from the environment when used; a bad value names its variable."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from bot import conf


def test_defaults_apply_on_a_bare_environment(monkeypatch):
    for name in ("IMAGEBOT_MAX_LABELS", "IMAGEBOT_MIN_CONFIDENCE", "IMAGEBOT_MEDIA_URL_PREFIXES", "X_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert (conf.max_labels(), conf.min_confidence()) == (5, 85.0)
    assert conf.media_url_prefixes() == ("https://pbs.twimg.com/", "https://ton.twimg.com/")
    assert conf.x_api_base_url() == "https://api.x.com"


def test_values_are_read_when_used_not_at_import(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "3")
    assert conf.max_labels() == 3
    monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "12")
    assert conf.max_labels() == 12


@pytest.mark.parametrize(
    ("name", "value", "accessor"),
    [
        ("IMAGEBOT_MAX_LABELS", "five", conf.max_labels),
        ("IMAGEBOT_MAX_LABELS", "0", conf.max_labels),
        ("IMAGEBOT_MIN_CONFIDENCE", "101", conf.min_confidence),
        ("IMAGEBOT_KEEP_PHOTOS", "maybe", conf.keep_photos),
        ("IMAGEBOT_MEDIA_MAX_PIXELS", "500000000", conf.media_max_pixels),
        ("IMAGEBOT_MODERATION_MIN_CONFIDENCE", "nan", conf.moderation_min_confidence),
        ("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "inf", conf.media_total_timeout),
    ],
)
def test_a_bad_value_fails_loudly_naming_the_variable(monkeypatch, name, value, accessor):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        accessor()


def test_dry_run_is_on_without_an_access_token_and_can_be_forced(monkeypatch):
    monkeypatch.delenv("X_ACCESS_TOKEN", raising=False)
    assert conf.x_dry_run() is True
    monkeypatch.setenv("X_ACCESS_TOKEN", "1-abc")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "s")
    assert conf.x_dry_run() is False
    monkeypatch.setenv("X_DRY_RUN", "yes")
    assert conf.x_dry_run() is True


def test_lists_drop_blanks_and_spaces(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", " https://a.example/ , ,https://b.example/")
    assert conf.media_url_prefixes() == ("https://a.example/", "https://b.example/")


def start_django(**environ: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "imagebot_site.settings", **environ}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_settings_refuse_to_start_without_a_secret_key_when_the_site_answers_another_host():
    result = start_django(DJANGO_ALLOWED_HOSTS="bot.example.com")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when the site answers other hosts" in result.stderr


def test_settings_refuse_the_dev_secret_key_on_lambda_whatever_the_hosts():
    result = start_django(AWS_LAMBDA_FUNCTION_NAME="imagebot-dev")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr and "always on Lambda" in result.stderr


def test_debug_is_off_unless_a_developer_asks_for_it():
    assert start_django(DJANGO_ALLOWED_HOSTS="bot.example.com", DJANGO_SECRET_KEY="k" * 50).stdout.strip() == "False"
    assert start_django().stdout.strip() == "False"  # a bare local start too
    assert start_django(DJANGO_DEBUG="1").stdout.strip() == "True"


@pytest.mark.parametrize(
    "environ", [{"DJANGO_ALLOWED_HOSTS": "bot.example.com", "DJANGO_SECRET_KEY": "k" * 50}, {"AWS_LAMBDA_FUNCTION_NAME": "imagebot-dev"}]
)
def test_debug_is_refused_where_strangers_could_see_its_pages(environ):
    result = start_django(DJANGO_DEBUG="1", **environ)
    assert result.returncode != 0
    assert "DJANGO_DEBUG is for a developer's machine" in result.stderr


def test_every_variable_the_code_reads_is_documented_in_the_readme():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [*root.joinpath("bot").rglob("*.py"), *root.joinpath("imagebot_site").rglob("*.py")]
    read = set()
    for path in sources:
        read |= set(re.findall(r'"((?:IMAGEBOT|X|AWS|DJANGO|DATABASE)_[A-Z0-9_]+)"', path.read_text()))
    set_by_the_runtime = {"AWS_LAMBDA_FUNCTION_NAME", "DJANGO_SETTINGS_MODULE"}
    readme = root.joinpath("README.md").read_text()

    assert "IMAGEBOT_MEDIA_TOTAL_TIMEOUT" in read  # the scan finds what conf reads
    assert sorted(name for name in read - set_by_the_runtime if f"`{name}`" not in readme) == []


# --- The one table of settings ------------------------------------------------------------


def _accessors():
    """conf's public functions that take no argument: the accessors the code calls (not the lists of problems)."""
    import inspect

    for name, function in inspect.getmembers(conf, inspect.isfunction):
        public = function.__module__ == conf.__name__ and not name.startswith("_") and not name.endswith("_problems")
        if public and not inspect.signature(function).parameters:
            yield name, function


class _RecordingEnviron(dict):
    """os.environ's values, remembering every name looked up."""

    def __init__(self, values):
        super().__init__(values)
        self.read = set()

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)

    def __contains__(self, name):
        self.read.add(name)
        return super().__contains__(name)


SET_BY_THE_RUNTIME = {"AWS_LAMBDA_FUNCTION_NAME"}


@pytest.mark.parametrize(("name", "accessor"), list(_accessors()), ids=[name for name, _ in _accessors()])
def test_every_accessor_reads_only_registered_settings_and_refuses_their_bad_values(monkeypatch, name, accessor):
    import os

    for setting in conf.SETTINGS:
        monkeypatch.delenv(setting, raising=False)
    environ = _RecordingEnviron(os.environ)
    monkeypatch.setattr(os, "environ", environ)

    accessor()

    assert environ.read, f"conf.{name} reads no variable"
    assert environ.read <= set(conf.SETTINGS) | SET_BY_THE_RUNTIME, f"conf.{name} reads a variable outside conf.SETTINGS"
    for variable in sorted(environ.read & set(conf.SETTINGS)):
        if conf.SETTINGS[variable].allowed == "any text":
            continue
        monkeypatch.setitem(environ, variable, "not allowed")
        with pytest.raises(ImproperlyConfigured, match=f"^{variable}='not allowed': must be "):
            accessor()
        del environ[variable]


def test_the_accessors_the_code_calls_are_all_there():
    names = {name for name, _ in _accessors()}
    assert {"max_labels", "min_confidence", "sweep_after_seconds", "media_timeout", "x_dry_run", "dispatch_mode"} <= names


def _readme_rows() -> list[list[str]]:
    from pathlib import Path

    readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split(" | ") for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row] for row in rows]


@pytest.mark.parametrize("name", list(conf.SETTINGS))
def test_the_readme_table_gives_each_setting_its_default_and_allowed_values(name):
    setting = conf.SETTINGS[name]
    [row] = [row for row in _readme_rows() if f"`{name}`" in row[0]]

    _variable, default, allowed, _meaning = row
    assert (default.replace("`", ""), allowed) == (setting.shown_default, setting.allowed)
