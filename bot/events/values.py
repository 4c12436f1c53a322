"""Reading X's JSON defensively: each helper turns junk into an empty value, never an error.

Shared by every payload parser, so a field means the same whichever format it came in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# What X's ids look like: a positive integer of at most 19 digits, no leading zero
# (X's ids are 64-bit snowflakes). "0001" and "1" would otherwise be two tweets.
X_ID = re.compile(r"[1-9][0-9]{0,18}")


def read_id(value: Any) -> str:
    """An X id as a string (id_str where X gives one: ids exceed 53 bits); anything else,
    bools, zero-padded or over-long numbers included, is no id."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and value.isascii() and X_ID.fullmatch(value):
        return value
    return ""


def x_id_order(x_id: str) -> tuple[int, str]:
    """A sort key that puts X ids (read_id's digits, no leading zero) in their numeric order, the order X made them."""
    return (len(x_id), x_id)


def read_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def read_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def read_text(value: Any, limit: int) -> str:
    """A string field as we keep it: text only (not a number or an object), within its column.

    JSON can carry what no database column takes: lone surrogates (half an emoji) become
    U+FFFD and NUL characters are dropped.
    """
    if not isinstance(value, str):
        return ""
    return storable(value)[:limit]


def storable(value: str) -> str:
    if value.isascii() and "\x00" not in value:
        return value
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")


def read_created_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parsedate_to_datetime(value)
        # In UTC: databases refuse far-out offsets; far-out years overflow here instead.
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def read_iso_datetime(value: Any) -> datetime | None:
    """A v2 timestamp ("2026-07-24T21:05:48.000Z") in UTC; anything else is no time."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
