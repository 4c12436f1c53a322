"""From a delivery's bytes to plain events, whatever format X sent them in."""

from __future__ import annotations

import json
from typing import Any

from bot.events import account_activity, activity
from bot.events.types import ParsedDelivery


class PayloadError(ValueError):
    """The body is not a JSON object, so it cannot be a delivery (its message says why)."""


def payload_load(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object, or PayloadError."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise PayloadError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PayloadError(f"not a JSON object: {type(payload).__name__}")
    return payload


def parse_delivery(payload: dict[str, Any], *, bot_user_id: str = "") -> ParsedDelivery:
    """Parse any payload X sends; a format we do not know yields no events, not an error.

    `bot_user_id` stands in for a missing `for_user_id` (the account the delivery is for).
    """
    if account_activity.looks_like(payload):
        return account_activity.parse(payload, bot_user_id=bot_user_id)
    if activity.looks_like(payload):
        return activity.parse(payload, bot_user_id=bot_user_id)
    return ParsedDelivery(for_user_x_id="", kinds=("unknown",))
