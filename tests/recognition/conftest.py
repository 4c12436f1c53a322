"""Fixtures for the local recogniser: the committed photos (tests/photos/, see SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

PHOTOS = Path(__file__).resolve().parent.parent / "photos"


def photo_bytes(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


@pytest.fixture
def local_recogniser(monkeypatch):
    """The local backend answers (the suite's default is Rekognition)."""
    monkeypatch.setenv("IMAGEBOT_RECOGNISER", "local")
    for name in ("IMAGEBOT_MIN_CONFIDENCE", "IMAGEBOT_MAX_LABELS", "IMAGEBOT_MODERATION_MIN_CONFIDENCE"):
        monkeypatch.delenv(name, raising=False)
