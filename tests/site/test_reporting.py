"""Error pages never show a secret, DEBUG on or off (imagebot_site/reporting.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from bot.models import Delivery
from tests.fixtures.webhook import WEBHOOK_URL, encode, sign

CONSUMER_SECRET = "s3cr3t-consumer-value-7f1d2c9b"
DB_PASSWORD = "hunter2-db-password-91ac"
ACCESS_SECRET = "access-token-secret-3b7e8a1f"


@pytest.fixture
def secrets_in_the_environment(monkeypatch):
    monkeypatch.setenv("X_CONSUMER_SECRET", CONSUMER_SECRET)
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", ACCESS_SECRET)
    monkeypatch.setenv("DATABASE_URL", f"postgres://bot:{DB_PASSWORD}@db.example:5432/bot")


def database_down(*args, **kwargs):
    # What a driver's frame holds when the database refuses: the connection string, password and all.
    conninfo = f"host=db.example user=bot password={DB_PASSWORD} dbname=bot"
    raise OperationalError(f"connection to server failed ({conninfo!r})")


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_a_500_page_shows_no_secret_with_the_database_down(settings, secrets_in_the_environment, debug):
    settings.DEBUG = debug
    body = encode({"for_user_id": "1", "tweet_create_events": []})
    client = Client(raise_request_exception=False)
    with mock.patch.object(Delivery.objects, "create", side_effect=database_down):
        response = client.post(
            WEBHOOK_URL, body, content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=sign(body, CONSUMER_SECRET)
        )

    assert response.status_code == 500
    page = response.content.decode()
    if debug:
        assert "OperationalError" in page and "Traceback" in page  # it is the debug page
    for secret in (CONSUMER_SECRET, DB_PASSWORD, ACCESS_SECRET, settings.SECRET_KEY):
        assert secret not in page


def test_the_text_report_for_error_mails_shows_no_secret(rf, settings, secrets_in_the_environment):
    from django.views.debug import get_exception_reporter_class

    settings.DEBUG = False
    request = rf.post(WEBHOOK_URL, data=b"{}", content_type="application/json")
    secret = CONSUMER_SECRET  # a local of the failing frame, as in the webhook view
    try:
        database_down(secret)
    except OperationalError as exc:
        reporter = get_exception_reporter_class(request)(request, type(exc), exc, exc.__traceback__)
        text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "OperationalError" in text
    for report in (text, html):
        assert CONSUMER_SECRET not in report and DB_PASSWORD not in report


def test_a_secret_hidden_under_any_name_is_still_hidden(rf, secrets_in_the_environment):
    from imagebot_site.reporting import SecretsFilter

    request = rf.get("/", HTTP_X_ANYTHING=f"prefix {ACCESS_SECRET} suffix")
    meta = SecretsFilter().get_safe_request_meta(request)
    assert meta["HTTP_X_ANYTHING"] == SecretsFilter.cleansed_substitute
    assert meta["REQUEST_METHOD"] == "GET"  # ordinary values stay readable


def test_a_secret_printed_inside_a_repr_is_hidden_too(rf, settings, monkeypatch):
    # A driver's connect frame holds its parameters as a dict: repr() doubles a backslash.
    password = "SEKRIT" + "\\" + "pw1234"  # built, so the page's source excerpts do not spell it
    monkeypatch.setenv("DATABASE_URL", "postgres://u:SEKRIT%5Cpw1234@127.0.0.1:1/db")
    settings.DEBUG = True
    from django.views.debug import get_exception_reporter_class

    request = rf.get("/")
    try:
        params = {"password": password, "host": "127.0.0.1"}  # noqa: F841 - a frame's local, as in psycopg
        raise OperationalError("connection refused")
    except OperationalError as exc:
        reporter = get_exception_reporter_class(request)(request, type(exc), exc, exc.__traceback__)
        html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    assert "OperationalError" in html
    for report in (html, text):
        assert password not in report and repr(password)[1:-1] not in report
