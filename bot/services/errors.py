"""How a step says it could not finish: now (temporary), ever (permanent), or not even recorded."""

from __future__ import annotations


class TemporaryFailure(Exception):
    """A step could not finish now (X or AWS failing, a timeout); the sweeper tries it again."""


class PermanentFailure(Exception):
    """A step can never finish for this tweet (bad configuration, refused credentials)."""


class RecordingFailed(Exception):
    """Recording a delivery did not finish (args: the pk of the delivery kept). Either it could not
    be recorded as events, and was kept with outcome `failed`; or it was recorded, but a known post
    it brings could not be taken over. Recording it again (X's retry, a replay) is safe either way."""
