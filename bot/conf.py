"""Settings read from the environment when they are used, never frozen at import.

Each accessor says its variable, its default and its range; a bad value raises
ImproperlyConfigured with the variable's name so the operator sees what to fix.
Secrets are returned, never logged.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TypeVar, overload

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

_Number = TypeVar("_Number", int, float)


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {value!r}")


def _env_number(
    name: str, default: _Number, convert: Callable[[str], _Number], minimum: _Number | None, maximum: _Number | None
) -> _Number:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = convert(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value):  # nan passes every comparison below
        raise ImproperlyConfigured(f"{name} must be a finite number, not {raw!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    return _env_number(name, default, int, minimum, maximum)


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    return _env_number(name, default, float, minimum, maximum)


def env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def on_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


# --- X -----------------------------------------------------------------------


def x_consumer_key() -> str | None:
    return env_str("X_CONSUMER_KEY")


def x_consumer_secret() -> str | None:
    return env_str("X_CONSUMER_SECRET")


def x_access_token() -> str | None:
    return env_str("X_ACCESS_TOKEN")


def x_bot_user_id() -> str:
    """The bot account's user id, as X writes it at the start of its access token ("<id>-..."); "" when unknown."""
    owner = (x_access_token() or "").split("-", 1)[0]
    return owner if owner.isdigit() else ""


def x_access_token_secret() -> str | None:
    return env_str("X_ACCESS_TOKEN_SECRET")


def x_bearer_token() -> str | None:
    return env_str("X_BEARER_TOKEN")


def x_api_base_url() -> str:
    return env_str("X_API_BASE_URL", "https://api.x.com").rstrip("/")


def x_webhook_url() -> str | None:
    return env_str("X_WEBHOOK_URL")


def x_dry_run() -> bool:
    """Replies are composed and recorded but not posted. On by default without an access token."""
    return env_bool("X_DRY_RUN", default=not (x_access_token() and x_access_token_secret()))


def x_timeout() -> tuple[float, float]:
    """(connect, read) seconds for every call to X."""
    return (
        env_float("IMAGEBOT_X_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60),
        env_float("IMAGEBOT_X_READ_TIMEOUT", 15.0, minimum=0.1, maximum=120),
    )


def x_max_retries() -> int:
    """Extra tries after a temporary failure (5xx, timeout, 429) within one call."""
    return env_int("IMAGEBOT_X_MAX_RETRIES", 3, minimum=0, maximum=10)


def x_max_rate_limit_wait() -> int:
    """Longest wait, in seconds, for x-rate-limit-reset before giving the step back to the sweeper."""
    return env_int("IMAGEBOT_X_MAX_RATE_LIMIT_WAIT", 60, minimum=0, maximum=900)


# --- Webhook -------------------------------------------------------------------


def webhook_max_bytes() -> int:
    return env_int("IMAGEBOT_WEBHOOK_MAX_BYTES", 1024 * 1024, minimum=1024, maximum=50 * 1024 * 1024)


# --- Media ---------------------------------------------------------------------


def media_url_prefixes() -> tuple[str, ...]:
    return env_list("IMAGEBOT_MEDIA_URL_PREFIXES", ("https://pbs.twimg.com/", "https://ton.twimg.com/"))


def media_max_bytes() -> int:
    """Largest download accepted, before any conversion."""
    return env_int("IMAGEBOT_MEDIA_MAX_BYTES", 20 * 1024 * 1024, minimum=1024, maximum=200 * 1024 * 1024)


def media_timeout() -> tuple[float, float]:
    return (
        env_float("IMAGEBOT_MEDIA_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60),
        env_float("IMAGEBOT_MEDIA_READ_TIMEOUT", 15.0, minimum=0.1, maximum=120),
    )


def media_total_timeout() -> float:
    """Seconds one photo's download may take in all, however steadily bytes trickle in."""
    return env_float("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", 30.0, minimum=0.1, maximum=600)


def media_max_pixels() -> int:
    """Decompression-bomb guard: images with more pixels are refused before decoding.

    At most Pillow's own limit (89,478,485), above which Pillow refuses them anyway.
    """
    return env_int("IMAGEBOT_MEDIA_MAX_PIXELS", 50_000_000, minimum=10_000, maximum=89_478_485)


def keep_photos() -> bool:
    """Retention: keep stored photos after the reply settles (default: delete them)."""
    return env_bool("IMAGEBOT_KEEP_PHOTOS", False)


# --- Recognition ----------------------------------------------------------------

RECOGNISERS = ("local", "rekognition")


def recogniser() -> str:
    """Which backend labels photos: rekognition on Lambda, local (an ONNX model on this machine) elsewhere."""
    name = (env_str("IMAGEBOT_RECOGNISER") or ("rekognition" if on_lambda() else "local")).lower()
    if name not in RECOGNISERS:
        raise ImproperlyConfigured(f"IMAGEBOT_RECOGNISER must be local or rekognition, not {name!r}")
    return name


def max_labels() -> int:
    return env_int("IMAGEBOT_MAX_LABELS", 5, minimum=1, maximum=1000)


def min_confidence() -> float:
    return env_float("IMAGEBOT_MIN_CONFIDENCE", 85.0, minimum=0, maximum=100)


def moderation_min_confidence() -> float:
    """A photo with a moderation label at or above this confidence gets the neutral reply."""
    return env_float("IMAGEBOT_MODERATION_MIN_CONFIDENCE", 80.0, minimum=0, maximum=100)


def aws_max_retries() -> int:
    """Extra tries after Rekognition throttling or a service error."""
    return env_int("IMAGEBOT_AWS_MAX_RETRIES", 4, minimum=0, maximum=10)


def aws_region() -> str:
    return env_str("AWS_REGION") or env_str("AWS_DEFAULT_REGION") or "us-east-1"


# --- Pipeline -------------------------------------------------------------------


def s3_events() -> bool:
    """Recognition is triggered by S3 ObjectCreated events (Lambda with a bucket), not called directly."""
    return env_bool("IMAGEBOT_S3_EVENTS", default=on_lambda() and bool(env_str("AWS_STORAGE_BUCKET_NAME")))


def dispatch_mode() -> str:
    """How a new tweet is handed to processing: inline, thread or lambda."""
    mode = env_str("IMAGEBOT_DISPATCH", "lambda" if on_lambda() else "thread")
    if mode not in {"inline", "thread", "lambda"}:
        raise ImproperlyConfigured(f"IMAGEBOT_DISPATCH must be inline, thread or lambda, not {mode!r}")
    return mode


def sweep_after_seconds() -> int:
    """A tweet untouched in a non-final state for this long is re-dispatched by the sweeper."""
    return env_int("IMAGEBOT_SWEEP_AFTER_SECONDS", 300, minimum=10, maximum=7 * 24 * 3600)


def max_attempts() -> int:
    """Processing attempts before a tweet is marked failed with its last error."""
    return env_int("IMAGEBOT_MAX_ATTEMPTS", 5, minimum=1, maximum=100)


# --- recognition/replies (added) ---------------------------------------------------


def aws_timeout() -> tuple[float, float]:
    """(connect, read) seconds for every Rekognition call; the read allows for uploading a 5 MB photo."""
    return (
        env_float("IMAGEBOT_AWS_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60),
        env_float("IMAGEBOT_AWS_READ_TIMEOUT", 30.0, minimum=0.1, maximum=300),
    )
