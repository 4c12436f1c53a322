"""Error pages and error mails that never show a secret, DEBUG or not.

Django's own filter hides settings by name and the variables that views mark as
sensitive, but only with DEBUG off, and it cannot know that a database driver's frame
holds the password of DATABASE_URL in a connection string. So, on top of it:

- the filter is always active (a developer's debug page is a page too);
- any value that contains a secret's text is hidden, whatever its name: settings,
  request.META (runserver copies the whole environment into it) and every frame's
  local variables;
- the rendered page and the text report are scrubbed of every secret's text last,
  which also covers exception messages.

The secrets are the values of the environment variables below (and the password of
DATABASE_URL), read when a report is made.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

SECRET_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
    "X_BEARER_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
# Shorter values are too likely to occur by chance to be worth hiding everywhere.
MIN_SECRET_LENGTH = 6


def secret_values() -> list[str]:
    """The secrets' texts as they are now, longest first (so a longer one is hidden whole)."""
    values = set()
    for name in SECRET_VARIABLES:
        value = (os.environ.get(name) or "").strip()
        if len(value) >= MIN_SECRET_LENGTH:
            values.add(value)
    database_url = os.environ.get("DATABASE_URL") or ""
    try:
        password = urlsplit(database_url).password
    except ValueError:
        password = None
    if password:
        values.update(value for value in (password, unquote(password)) if len(value) >= MIN_SECRET_LENGTH)
    for database in getattr(settings, "DATABASES", {}).values():
        password = str(database.get("PASSWORD") or "")
        if len(password) >= MIN_SECRET_LENGTH:
            values.add(password)
    key = str(getattr(settings, "SECRET_KEY", "") or "")
    if len(key) >= MIN_SECRET_LENGTH:
        values.add(key)
    # As a page or a report may print them too: inside a repr() (a dict's or a tuple's: "\\"
    # for a backslash, "\\n" for a newline) or a JSON string.
    values |= {form for value in list(values) for form in (repr(value)[1:-1], json.dumps(value)[1:-1], repr(value + '"')[1:-2])}
    return sorted(values, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str], substitute: str) -> str:
    for secret in secrets:
        text = text.replace(secret, substitute)
    return text


class SecretsFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile("API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|DSN", flags=re.I)

    def is_active(self, request: Any) -> bool:
        return True

    def _holds_secret(self, value: Any) -> bool:
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception:  # a repr that fails is shown as such by Django; nothing to hide
            return False
        return any(secret in text for secret in secret_values())

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if cleansed is not self.cleansed_substitute and isinstance(value, (str, bytes)) and self._holds_secret(value):
            return self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleansed_substitute if self._holds_secret(value) else value) for name, value in variables]


class SecretsReporter(ExceptionReporter):
    """The last word: nothing the page or the text report says holds a secret's text."""

    def get_traceback_html(self) -> SafeString:
        secrets = secret_values()
        escaped = [str(escape(secret)) for secret in secrets]  # as the page writes them
        return mark_safe(scrub(super().get_traceback_html(), [*secrets, *escaped], SecretsFilter.cleansed_substitute))  # noqa: S308 - Django's own page, less the secrets

    def get_traceback_text(self) -> SafeString:
        return mark_safe(scrub(super().get_traceback_text(), secret_values(), SecretsFilter.cleansed_substitute))  # noqa: S308 - as above
