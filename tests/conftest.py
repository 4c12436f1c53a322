"""Shared fixtures. Each outside boundary keeps its fixtures in its own module."""

pytest_plugins = [
    "tests.fixtures.webhook",
    "tests.fixtures.fake_x",
    "tests.fixtures.media_server",
    "tests.fixtures.aws",
    "tests.fixtures.s3",
]

import pytest


@pytest.fixture(autouse=True)
def _isolated_bot(monkeypatch, settings, tmp_path):
    """Every test: work runs inline, photos go to a temporary folder, no real credentials leak in,
    and Rekognition (answered by botocore's Stubber) recognises; tests of the local recogniser say so."""
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "inline")
    monkeypatch.setenv("IMAGEBOT_RECOGNISER", "rekognition")
    for name in ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_BEARER_TOKEN", "X_DRY_RUN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings.MEDIA_ROOT = str(tmp_path / "media")
