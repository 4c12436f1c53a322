"""Shared fixtures. Each outside boundary keeps its fixtures in its own module.

Here: what every test gets (`_isolated_bot`), and the ways work runs as X and a worker
would run it:

    deliver(*posts, **other_events)   a signed Account Activity delivery of these posts, and
                                      the work it dispatches (inline); asserts the 200
    deliver_payload(payload)          the same for any body (dict or bytes)
    deliver_meanwhile(...)            deliver(), called from inside a running step
    sweep() -> counts                 the sweeper, and the work it dispatches
    x_waits -> list[float]            what the X client asked to wait; nothing waits

Plain helpers for looking at the outcome live in tests/fixtures/pipeline.py.
"""

pytest_plugins = [
    "tests.fixtures.webhook",
    "tests.fixtures.fake_x",
    "tests.fixtures.media_server",
    "tests.fixtures.aws",
    "tests.fixtures.s3",
]

import pytest
from django.db import transaction
from django.urls import clear_script_prefix

from bot import services, x_api
from bot.events import samples


@pytest.fixture(autouse=True)
def _script_prefix_reset():
    """Zappa's handler sets the API Gateway stage ("/dev/") as the thread's script prefix for
    reverse(); a later test in the same thread would otherwise build its URLs under it."""
    yield
    clear_script_prefix()


@pytest.fixture(autouse=True)
def _isolated_bot(monkeypatch, settings, tmp_path):
    """Every test: work runs inline, photos go to a temporary folder, no real credentials leak in,
    and Rekognition (answered by botocore's Stubber) recognises; tests of the local recogniser say so."""
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")
    monkeypatch.setenv("IMAGEBOT_RECOGNISER", "rekognition")
    for name in (
        "X_CONSUMER_KEY",
        "X_CONSUMER_SECRET",
        "X_ACCESS_TOKEN",
        "X_ACCESS_TOKEN_SECRET",
        "X_BEARER_TOKEN",
        "X_DRY_RUN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def deliver_payload(post_signed, django_capture_on_commit_callbacks):
    """POST a signed delivery body and run what it dispatches (inline), as X and a worker would."""

    def deliver_payload_(payload):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(payload)
        assert response.status_code == 200, response.content
        return response

    return deliver_payload_


@pytest.fixture
def deliver(deliver_payload):
    """deliver(*posts, **other_events): the posts (and other events) in one Account Activity delivery."""

    def deliver_(*posts: dict, **other_events):
        return deliver_payload(samples.delivery(*posts, **other_events))

    return deliver_


@pytest.fixture
def deliver_meanwhile(deliver):
    """A delivery committed while a worker is mid-step (called from inside the pipeline).

    Its on-commit work runs at once, exactly once, as after a real commit; the outer
    capture would otherwise run those callbacks a second time when the worker finishes.
    """

    def deliver_(*posts: dict, **other_events):
        run_on_commit = transaction.get_connection().run_on_commit
        before = len(run_on_commit)
        deliver(*posts, **other_events)
        del run_on_commit[before:]

    return deliver_


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweeper and whatever it re-dispatches."""

    def sweep_() -> services.SweepCounts:
        with django_capture_on_commit_callbacks(execute=True):
            return services.sweep()

    return sweep_


@pytest.fixture
def x_waits(monkeypatch) -> list[float]:
    """Seconds the X client asked to wait (rate-limit resets, backoff), in order; nothing really waits."""
    waits: list[float] = []
    monkeypatch.setattr(x_api, "sleep", waits.append)
    return waits
