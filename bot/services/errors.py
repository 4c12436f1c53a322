"""How a step says it could not finish: now (temporary), ever (permanent), or not even recorded."""

from __future__ import annotations


class TemporaryFailure(Exception):
    """A step could not finish now (X or AWS failing, a timeout); the sweeper tries it again."""


class PermanentFailure(Exception):
    """A step can never finish for this tweet (bad configuration, refused credentials)."""


class RecordingFailed(Exception):
    """A delivery could not be recorded as events; it was kept with outcome `failed` (args: its pk)."""
