"""Schemathesis against /api/schema/: requests drawn from the schema, valid and not, sent
through the WSGI application with a staff token; every answer must be a documented status,
content type and shape, and never a 500.

Bounded for CI: API_FUZZ_EXAMPLES examples per operation and mode (default 25), drawn the
same way every run (derandomize), so a failure here can be run again. For a longer, random
hunt: `API_FUZZ_EXAMPLES=1000 API_FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/api/test_schema_fuzz.py`.

The schema is fetched from /api/schema/ through the view itself when the tests are collected
and handed to schemathesis.openapi.from_dict, bound to the WSGI application as from_wsgi
would. (from_wsgi inside a fixture, through schemathesis.pytest.from_fixture, would need
the database for a token; that path sets pytest's Node._nodeid, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.fixtures.records import record_zoo

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("API_FUZZ_RANDOM", "") == "1"


def served_schema() -> dict:
    """/api/schema/ as the API serves it, fetched while the tests are collected (so without the
    database: the asker is an unsaved superuser; the schema is the same whoever asks)."""
    client = APIClient()
    client.force_authenticate(User(username="schema-reader", is_superuser=True, is_active=True))
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


schema = schemathesis.openapi.from_dict(served_schema())
schema.app = WSGIHandler()  # what from_wsgi binds: requests go through the whole site, middleware included


@pytest.fixture
def staff_token(db) -> str:
    return Token.objects.create(user=User.objects.create_superuser("fuzz", password=None)).key


@pytest.fixture(autouse=True)
def _records_to_read(staff_token):
    """A small, varied set of records, read through the WSGI application.

    A WSGI server closes the database connection after each request; inside a test that would
    end the test's transaction, so (as Django's test client does) the closing is left out.
    """
    record_zoo()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_no_answer_breaks_the_schema(case, staff_token):
    cache.clear()  # the throttle would answer 429 (documented, but not what is being tested) long before the end
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"})
