"""Settings read from the environment when they are used, never frozen at import.

`SETTINGS` is the one table of the bot's variables: each entry says its name, its default,
the values it allows and what it means. The accessors (`conf.max_labels()` …) read through
it, so a bad value raises ImproperlyConfigured naming the variable, its value and what it
must be, on one line. `settings_problems()` lists every bad value at once, and the rules
that span several settings; bot.checks reports them as a Django system check when the bot
starts, so a bad value stops it before it accepts work. The README's Configuration table
shows the same defaults and allowed values (tests/test_conf.py compares them).

Secrets are returned, never logged, and never shown in a message: a secret allows any text.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_T = TypeVar("_T")
_D = TypeVar("_D")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_SHOWN_VALUE_MAX = 100  # a problem's line shows at most this much of the bad value


def _raw(name: str) -> str | None:
    """The variable's text, stripped; None when it is unset or blank (its default applies)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _problem_line(name: str, raw: str, allowed: str) -> str:
    shown = raw if len(raw) <= _SHOWN_VALUE_MAX else raw[:_SHOWN_VALUE_MAX] + "…"
    return f"{name}={shown!r}: must be {allowed}"  # repr: a newline in the value cannot break the line


@dataclass(frozen=True)
class Setting(Generic[_T]):
    """One environment variable: its name, default, allowed values and meaning."""

    name: str
    default: _T
    allowed: str  # what a value must be, as the README's table and the problem line say it
    meaning: str
    shown_default: str  # the default as the README's table says it
    convert: Callable[[str], _T] = field(repr=False, compare=False)  # ValueError for a value not allowed

    def read(self) -> _T:
        raw = _raw(self.name)
        if raw is None:
            return self.default
        try:
            return self.convert(raw)
        except ValueError:
            raise ImproperlyConfigured(_problem_line(self.name, raw, self.allowed)) from None

    def problem(self) -> str | None:
        """The one-line problem with the variable's value, or None when it is allowed (or unset)."""
        try:
            self.read()
        except ImproperlyConfigured as exc:
            return str(exc)
        return None


SETTINGS: dict[str, Setting[Any]] = {}


def _register(setting: Setting[_T]) -> Setting[_T]:
    if setting.name in SETTINGS:
        raise ValueError(f"{setting.name} is registered twice")
    SETTINGS[setting.name] = setting
    return setting


# --- Kinds of value ---------------------------------------------------------------


def _text(name: str, *, meaning: str, default: str | None = None, shown_default: str = "") -> Setting[str | None]:
    return _register(
        Setting(name, default, "any text", meaning, shown_default or default or "—", convert=lambda raw: raw),
    )


def _flag(name: str, *, default: _D, meaning: str, shown_default: str = "") -> Setting[bool | _D]:
    def convert(raw: str) -> bool:
        lowered = raw.lower()
        if lowered not in _TRUE | _FALSE:
            raise ValueError(raw)
        return lowered in _TRUE

    shown = shown_default or ("on" if default is True else "off")
    return _register(Setting(name, default, "one of 1/0, true/false, yes/no, on/off", meaning, shown, convert=convert))


def _range_text(kind: str, unit: str, minimum: float, maximum: float, spell: Callable[[float], str]) -> str:
    return f"a {kind}{f' of {unit}' if unit else ''} from {spell(minimum)} to {spell(maximum)}"


def _unit_suffix(unit: str) -> str:
    return " s" if unit == "seconds" else ""


def _integer(name: str, default: int, *, minimum: int, maximum: int, meaning: str, unit: str = "", shown_default: str = "") -> Setting[int]:
    def convert(raw: str) -> int:
        value = int(raw)  # ValueError for "abc", "1.5"
        if not minimum <= value <= maximum:
            raise ValueError(raw)
        return value

    allowed = _range_text("whole number", unit, minimum, maximum, lambda n: f"{n:,}")
    shown = shown_default or f"{default:,}{_unit_suffix(unit)}"
    return _register(Setting(name, default, allowed, meaning, shown, convert=convert))


def _number(
    name: str, default: float, *, minimum: float, maximum: float, meaning: str, unit: str = "", shown_default: str = ""
) -> Setting[float]:
    def convert(raw: str) -> float:
        value = float(raw)  # ValueError for "abc"
        if not math.isfinite(value) or not minimum <= value <= maximum:  # nan passes no comparison: refused too
            raise ValueError(raw)
        return value

    allowed = _range_text("number", unit, minimum, maximum, lambda n: f"{n:g}")
    shown = shown_default or f"{default:g}{_unit_suffix(unit)}"
    return _register(Setting(name, default, allowed, meaning, shown, convert=convert))


def _choice(name: str, choices: tuple[str, ...], *, default: _D, meaning: str, shown_default: str = "") -> Setting[str | _D]:
    def convert(raw: str) -> str:
        if raw not in choices:
            raise ValueError(raw)
        return raw

    allowed = "one of " + ", ".join(choices)
    return _register(Setting(name, default, allowed, meaning, shown_default or str(default), convert=convert))


def _pattern(name: str, pattern: str, *, allowed: str, meaning: str, shown_default: str = "—") -> Setting[str | None]:
    def convert(raw: str) -> str:
        if not re.fullmatch(pattern, raw):
            raise ValueError(raw)
        return raw

    return _register(Setting(name, None, allowed, meaning, shown_default, convert=convert))


def _checked_url(raw: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(raw)  # ValueError for a malformed one ("http://[::1")
    if parts.scheme not in schemes or not parts.hostname or "@" in parts.netloc:
        raise ValueError(raw)
    _ = parts.port  # ValueError for a port that is not a number or out of range
    return raw


def _url_text(schemes: tuple[str, ...]) -> str:
    return " or ".join(f"{scheme}://" for scheme in schemes)


def _url(name: str, *, default: str | None = None, meaning: str, schemes: tuple[str, ...] = ("https", "http")) -> Setting[str | None]:
    allowed = f"an {_url_text(schemes)} URL with a host"
    return _register(Setting(name, default, allowed, meaning, default or "—", convert=lambda raw: _checked_url(raw, schemes)))


def _urls(name: str, *, default: tuple[str, ...], meaning: str, schemes: tuple[str, ...] = ("https", "http")) -> Setting[tuple[str, ...]]:
    def convert(raw: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in raw.split(",") if item.strip())
        if not items:
            raise ValueError(raw)
        return tuple(_checked_url(item, schemes) for item in items)

    allowed = f"a comma-separated list of {_url_text(schemes)} URLs, each with a host"
    return _register(Setting(name, default, allowed, meaning, ",".join(default), convert=convert))


# --- Helpers for the few variables Django's own settings read (imagebot_site/settings.py) ----


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    """Unset or blank: the default; otherwise 1/0, true/false, yes/no or on/off."""
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered not in _TRUE | _FALSE:
        raise ImproperlyConfigured(_problem_line(name, value, "one of 1/0, true/false, yes/no, on/off"))
    return lowered in _TRUE


def env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = _raw(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def on_lambda() -> bool:
    """Set by the Lambda runtime itself, not by an operator."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


# --- The settings --------------------------------------------------------------------

# X
X_CONSUMER_KEY = _text("X_CONSUMER_KEY", meaning="the app's API key")
X_CONSUMER_SECRET = _text("X_CONSUMER_SECRET", meaning="the app's API key secret: answers CRC and verifies deliveries")
X_ACCESS_TOKEN = _text("X_ACCESS_TOKEN", meaning="the bot account's access token (OAuth 1.0a user context), used to post replies")
X_ACCESS_TOKEN_SECRET = _text("X_ACCESS_TOKEN_SECRET", meaning="the bot account's access token secret")
X_BEARER_TOKEN = _text("X_BEARER_TOKEN", meaning="app-only calls (webhook management)")
X_API_BASE_URL = _url("X_API_BASE_URL", default="https://api.x.com", meaning="where X's API is (tests point it at a local fake X)")
X_WEBHOOK_URL = _url("X_WEBHOOK_URL", meaning="the public URL `x_webhook register` registers (X calls only https)", schemes=("https",))
X_DRY_RUN = _flag(
    "X_DRY_RUN",
    default=None,  # decided by x_dry_run()
    meaning="replies are composed and recorded, not posted",
    shown_default="on when there is no access token",
)
X_CONNECT_TIMEOUT = _number(
    "IMAGEBOT_X_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60, unit="seconds", meaning="connect timeout per call to X"
)
X_READ_TIMEOUT = _number("IMAGEBOT_X_READ_TIMEOUT", 15.0, minimum=0.1, maximum=120, unit="seconds", meaning="read timeout per call to X")
X_MAX_RETRIES = _integer(
    "IMAGEBOT_X_MAX_RETRIES", 3, minimum=0, maximum=10, meaning="extra tries after a temporary failure (5xx, timeout, 429) within one call"
)
X_MAX_RATE_LIMIT_WAIT = _integer(
    "IMAGEBOT_X_MAX_RATE_LIMIT_WAIT",
    60,
    minimum=0,
    maximum=900,
    unit="seconds",
    meaning="longest wait for x-rate-limit-reset before the step goes back to the sweeper",
)

# Webhook
WEBHOOK_MAX_BYTES = _integer(
    "IMAGEBOT_WEBHOOK_MAX_BYTES",
    1024 * 1024,
    minimum=1024,
    maximum=50 * 1024 * 1024,
    unit="bytes",
    shown_default="1 MiB",
    meaning="larger deliveries get 413",
)

# Media
MEDIA_URL_PREFIXES = _urls(
    "IMAGEBOT_MEDIA_URL_PREFIXES",
    default=("https://pbs.twimg.com/", "https://ton.twimg.com/"),
    meaning="only URLs starting with one of these are fetched",
)
MEDIA_MAX_BYTES = _integer(
    "IMAGEBOT_MEDIA_MAX_BYTES",
    20 * 1024 * 1024,
    minimum=1024,
    maximum=200 * 1024 * 1024,
    unit="bytes",
    shown_default="20 MiB",
    meaning="largest download accepted, before any conversion",
)
MEDIA_CONNECT_TIMEOUT = _number(
    "IMAGEBOT_MEDIA_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60, unit="seconds", meaning="connect timeout per photo download"
)
MEDIA_READ_TIMEOUT = _number(
    "IMAGEBOT_MEDIA_READ_TIMEOUT", 15.0, minimum=0.1, maximum=120, unit="seconds", meaning="read timeout per photo download"
)
MEDIA_TOTAL_TIMEOUT = _number(
    "IMAGEBOT_MEDIA_TOTAL_TIMEOUT",
    30.0,
    minimum=0.1,
    maximum=600,
    unit="seconds",
    meaning="how long one photo's download may take in all, however steadily bytes trickle in",
)
MEDIA_MAX_PIXELS = _integer(
    "IMAGEBOT_MEDIA_MAX_PIXELS",
    50_000_000,
    minimum=10_000,
    maximum=89_478_485,  # Pillow's own limit, above which Pillow refuses them anyway
    unit="pixels",
    meaning="decompression-bomb guard: images with more pixels are refused before decoding",
)
MEDIA_ROOT = _text("IMAGEBOT_MEDIA_ROOT", meaning="the local photo folder when no bucket is set", shown_default="./media")

# Storage
STORAGE_BUCKET = _pattern(
    "AWS_STORAGE_BUCKET_NAME",
    r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
    allowed="an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)",
    meaning="set: photos go to this S3 bucket; unset: the local folder",
)
S3_ENDPOINT_URL = _url("AWS_S3_ENDPOINT_URL", meaning="S3 endpoint override (e.g. moto's server)")
ENDPOINT_URL = _url("AWS_ENDPOINT_URL", meaning="every AWS client's endpoint override (boto3's own variable)")
KEEP_PHOTOS = _flag("IMAGEBOT_KEEP_PHOTOS", default=False, meaning="keep stored photos after the reply settles")

# Recognition
MAX_LABELS = _integer("IMAGEBOT_MAX_LABELS", 5, minimum=1, maximum=1000, meaning="DetectLabels' MaxLabels")
MIN_CONFIDENCE = _number("IMAGEBOT_MIN_CONFIDENCE", 85.0, minimum=0, maximum=100, meaning="DetectLabels' MinConfidence")
MODERATION_MIN_CONFIDENCE = _number(
    "IMAGEBOT_MODERATION_MIN_CONFIDENCE",
    80.0,
    minimum=0,
    maximum=100,
    meaning="a photo with a moderation label at or above this confidence gets the neutral reply",
)
AWS_MAX_RETRIES = _integer(
    "IMAGEBOT_AWS_MAX_RETRIES", 4, minimum=0, maximum=10, meaning="extra tries after Rekognition throttling or a service error"
)
AWS_CONNECT_TIMEOUT = _number(
    "IMAGEBOT_AWS_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60, unit="seconds", meaning="connect timeout per Rekognition call"
)
AWS_READ_TIMEOUT = _number(
    "IMAGEBOT_AWS_READ_TIMEOUT",
    30.0,
    minimum=0.1,
    maximum=300,
    unit="seconds",
    meaning="read timeout per Rekognition call (it allows for uploading a 5 MB photo)",
)
_REGION = r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}"
AWS_REGION = _pattern(
    "AWS_REGION",
    _REGION,
    allowed="an AWS region name such as us-east-1",
    meaning="the AWS region",
    shown_default="us-east-1 for Rekognition",
)
AWS_DEFAULT_REGION = _pattern(
    "AWS_DEFAULT_REGION",
    _REGION,
    allowed="an AWS region name such as us-east-1",
    meaning="the AWS region, when AWS_REGION is unset",
    shown_default="us-east-1 for Rekognition",
)

# Pipeline
S3_EVENTS = _flag(
    "IMAGEBOT_S3_EVENTS",
    default=None,  # decided by s3_events()
    meaning="recognition waits for the S3 ObjectCreated event instead of being called directly",
    shown_default="on for Lambda with a bucket",
)
DISPATCH = _choice(
    "IMAGEBOT_DISPATCH",
    ("inline", "thread", "lambda"),
    default=None,  # decided by dispatch_mode()
    meaning="how work leaves the request",
    shown_default="thread locally, lambda on Lambda",
)
SWEEP_AFTER_SECONDS = _integer(
    "IMAGEBOT_SWEEP_AFTER_SECONDS",
    300,
    minimum=10,
    maximum=7 * 24 * 3600,
    unit="seconds",
    meaning="a tweet untouched this long in a non-final state is re-dispatched by the sweeper",
)
DISPATCH_WORKERS = _integer(
    "IMAGEBOT_DISPATCH_WORKERS",
    0,
    minimum=0,
    maximum=64,
    meaning="background threads per process that run jobs with IMAGEBOT_DISPATCH=thread (0: half the CPUs, at least 1)",
    shown_default="0 (half the CPUs, at least 1)",
)
DISPATCH_QUEUE = _integer(
    "IMAGEBOT_DISPATCH_QUEUE",
    100,
    minimum=1,
    maximum=100_000,
    meaning="jobs waiting for those threads, per process; past it a job stays in the database for the sweeper",
)
MAX_ATTEMPTS = _integer(
    "IMAGEBOT_MAX_ATTEMPTS", 5, minimum=1, maximum=100, meaning="processing attempts before a tweet is failed with its last error"
)
# X Activity API and recovery (issue 9)
DELIVERY_FORMAT = _choice(
    "IMAGEBOT_X_DELIVERY_FORMAT",
    ("account_activity", "activity", "both"),
    default="account_activity",
    meaning="which X subscriptions `x_activity subscribe` sets up (the webhook takes both formats always)",
)
RECONCILE_MAX_POSTS = _integer(
    "IMAGEBOT_RECONCILE_MAX_POSTS",
    100,
    minimum=5,
    maximum=10_000,
    unit="posts",
    meaning="most mentions one reconcile run reads (X bills each post read)",
)
# Costs the console's dashboard shows (US dollars). Defaults: the providers' published prices.
# Rekognition Image: DetectLabels and DetectModerationLabels are each "Group 2" APIs at $0.001 an
# image for the first million a month (https://aws.amazon.com/rekognition/pricing/), and the bot
# calls both once per photo. X API pay-per-use: "Content: Create" $0.015 per request
# (https://docs.x.com/x-api/getting-started/pricing), one per reply posted.
PRICE_PER_PHOTO = _number(
    "IMAGEBOT_PRICE_PER_PHOTO",
    0.002,
    minimum=0,
    maximum=10,
    meaning="US dollars per photo recognised, for the dashboard's costs (Rekognition: DetectLabels + DetectModerationLabels)",
)
PRICE_PER_REPLY = _number(
    "IMAGEBOT_PRICE_PER_REPLY",
    0.015,
    minimum=0,
    maximum=10,
    meaning="US dollars per reply posted, for the dashboard's costs (X API pay-per-use: one post created)",
)
LOG_LEVEL = _choice(
    "IMAGEBOT_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), default="INFO", meaning="the bot logger's level"
)


# --- Accessors: what the code calls -------------------------------------------------------

# X


def x_consumer_key() -> str | None:
    return X_CONSUMER_KEY.read()


def x_consumer_secret() -> str | None:
    return X_CONSUMER_SECRET.read()


def x_access_token() -> str | None:
    return X_ACCESS_TOKEN.read()


def x_bot_user_id() -> str:
    """The bot account's user id, as X writes it at the start of its access token ("<id>-..."); "" when unknown."""
    owner = (x_access_token() or "").split("-", 1)[0]
    return owner if owner.isdigit() else ""


def x_access_token_secret() -> str | None:
    return X_ACCESS_TOKEN_SECRET.read()


def x_bearer_token() -> str | None:
    return X_BEARER_TOKEN.read()


def x_api_base_url() -> str:
    return (X_API_BASE_URL.read() or X_API_BASE_URL.default or "").rstrip("/")


def x_webhook_url() -> str | None:
    return X_WEBHOOK_URL.read()


def x_dry_run() -> bool:
    """Replies are composed and recorded but not posted. On by default without an access token."""
    forced = X_DRY_RUN.read()
    return forced if forced is not None else not (x_access_token() and x_access_token_secret())


def x_timeout() -> tuple[float, float]:
    """(connect, read) seconds for every call to X."""
    return X_CONNECT_TIMEOUT.read(), X_READ_TIMEOUT.read()


def x_max_retries() -> int:
    """Extra tries after a temporary failure (5xx, timeout, 429) within one call."""
    return X_MAX_RETRIES.read()


def x_max_rate_limit_wait() -> int:
    """Longest wait, in seconds, for x-rate-limit-reset before giving the step back to the sweeper."""
    return X_MAX_RATE_LIMIT_WAIT.read()


# Webhook


def webhook_max_bytes() -> int:
    return WEBHOOK_MAX_BYTES.read()


# Media


def media_url_prefixes() -> tuple[str, ...]:
    return MEDIA_URL_PREFIXES.read()


def media_max_bytes() -> int:
    """Largest download accepted, before any conversion."""
    return MEDIA_MAX_BYTES.read()


def media_timeout() -> tuple[float, float]:
    return MEDIA_CONNECT_TIMEOUT.read(), MEDIA_READ_TIMEOUT.read()


def media_total_timeout() -> float:
    """Seconds one photo's download may take in all, however steadily bytes trickle in."""
    return MEDIA_TOTAL_TIMEOUT.read()


def media_max_pixels() -> int:
    """Decompression-bomb guard: images with more pixels are refused before decoding.

    At most Pillow's own limit (89,478,485), above which Pillow refuses them anyway.
    """
    return MEDIA_MAX_PIXELS.read()


def keep_photos() -> bool:
    """Retention: keep stored photos after the reply settles (default: delete them)."""
    return KEEP_PHOTOS.read()


def storage_bucket() -> str | None:
    """The S3 bucket photos go to; None: the local folder."""
    return STORAGE_BUCKET.read()


# Recognition

RECOGNISERS = ("local", "rekognition")
RECOGNISER = _choice(
    "IMAGEBOT_RECOGNISER",
    RECOGNISERS,
    default=None,  # decided by recogniser()
    meaning="which recogniser labels photos",
    shown_default="local off Lambda, rekognition on Lambda",
)


def recogniser() -> str:
    """Which backend labels photos: rekognition on Lambda, local (an ONNX model on this machine) elsewhere."""
    return RECOGNISER.read() or ("rekognition" if on_lambda() else "local")


def max_labels() -> int:
    return MAX_LABELS.read()


def min_confidence() -> float:
    return MIN_CONFIDENCE.read()


def moderation_min_confidence() -> float:
    """A photo with a moderation label at or above this confidence gets the neutral reply."""
    return MODERATION_MIN_CONFIDENCE.read()


def aws_max_retries() -> int:
    """Extra tries after Rekognition throttling or a service error."""
    return AWS_MAX_RETRIES.read()


def aws_region() -> str:
    return AWS_REGION.read() or AWS_DEFAULT_REGION.read() or "us-east-1"


def aws_timeout() -> tuple[float, float]:
    """(connect, read) seconds for every Rekognition call; the read allows for uploading a 5 MB photo."""
    return AWS_CONNECT_TIMEOUT.read(), AWS_READ_TIMEOUT.read()


# Pipeline


def s3_events() -> bool:
    """Recognition is triggered by S3 ObjectCreated events (Lambda with a bucket), not called directly."""
    forced = S3_EVENTS.read()
    return forced if forced is not None else on_lambda() and bool(storage_bucket())


def dispatch_mode() -> str:
    """How a new tweet is handed to processing: inline, thread or lambda."""
    return DISPATCH.read() or ("lambda" if on_lambda() else "thread")


def dispatch_workers() -> int:
    """Threads that run dispatched jobs in this process (IMAGEBOT_DISPATCH=thread).

    Half the machine's CPUs by default, so the webhook's own threads keep the rest."""
    return DISPATCH_WORKERS.read() or max(1, (os.cpu_count() or 1) // 2)


def dispatch_queue() -> int:
    """Jobs that may wait for a thread; a further one is left in the database for the sweeper."""
    return DISPATCH_QUEUE.read()


def sweep_after_seconds() -> int:
    """A tweet untouched in a non-final state for this long is re-dispatched by the sweeper."""
    return SWEEP_AFTER_SECONDS.read()


def max_attempts() -> int:
    """Processing attempts before a tweet is marked failed with its last error."""
    return MAX_ATTEMPTS.read()


def delivery_format() -> str:
    """Which subscriptions the bot sets up on X: account_activity, activity (X Activity API) or both."""
    return DELIVERY_FORMAT.read()


def reconcile_max_posts() -> int:
    return RECONCILE_MAX_POSTS.read()


def price_per_photo() -> float:
    return PRICE_PER_PHOTO.read()


def price_per_reply() -> float:
    return PRICE_PER_REPLY.read()


def log_level() -> str:
    return LOG_LEVEL.read()


# --- Every problem at once --------------------------------------------------------------


def _shown(setting: Setting[Any]) -> str:
    raw = _raw(setting.name)
    return f"{setting.name}={raw!r}" if raw is not None else f"{setting.name} (unset: {setting.shown_default})"


def _s3_events_need_a_bucket() -> list[str]:
    if s3_events() and not storage_bucket():
        return [
            f"{_shown(S3_EVENTS)}: must be off without AWS_STORAGE_BUCKET_NAME (only a bucket sends S3 events; "
            "recognition would wait for events that never come)"
        ]
    return []


def _no_threads_on_lambda() -> list[str]:
    if dispatch_mode() == "thread" and on_lambda():
        return [f"{_shown(DISPATCH)}: must be lambda or inline on Lambda (a background thread is frozen when the invocation returns)"]
    return []


def _no_sqlite_on_lambda() -> list[str]:
    """The database settings.py builds from DATABASE_URL (SQLite when unset), refused on Lambda."""
    raw = _raw("DATABASE_URL")
    if not on_lambda() or (raw is not None and urlsplit(raw).scheme not in ("sqlite", "spatialite")):
        return []
    # Only a SQLite URL is shown: any other could carry a password.
    shown = f"DATABASE_URL={raw!r}" if raw is not None else "DATABASE_URL (unset: SQLite, db.sqlite3)"
    return [
        f"{shown}: must be a PostgreSQL URL on Lambda (SQLite cannot work there: each execution environment "
        "has its own /tmp, lost when it ends, and the code folder is read-only)"
    ]


def _posting_needs_credentials() -> list[str]:
    if x_dry_run():
        return []
    missing = [setting.name for setting in (X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET) if not setting.read()]
    if missing:
        return [f"{_shown(X_DRY_RUN)}: replies are posted, so {', '.join(missing)} must be set (or X_DRY_RUN on)"]
    return []


# Values that are each allowed but do not work together: each rule gives one line per problem.
COMBINATION_RULES: tuple[Callable[[], list[str]], ...] = (
    _s3_events_need_a_bucket,
    _no_threads_on_lambda,
    _no_sqlite_on_lambda,
    _posting_needs_credentials,
)


def settings_problems(rules: Iterable[Callable[[], list[str]]] = COMBINATION_RULES) -> list[str]:
    """Every bad value, one line each (the variable, its value and what it must be), then what `rules` find.

    A rule reads several settings; while one of them is bad (and reported on its own line)
    the rule is skipped rather than stopping the list.
    """
    problems = [problem for setting in SETTINGS.values() if (problem := setting.problem()) is not None]
    for rule in rules:
        try:
            problems.extend(rule())
        except ImproperlyConfigured:
            continue
    return problems


# --- How long a claimed step can take (replying, sweeping) -------------------------
# A claim (a photo `recognising`, a reply `posting`) must outlive the longest its step can
# take, or the sweeper would hand a live worker's work to a second one. These are derived
# from the timeouts and retries above, so no combination of settings can break that.

# A step's time outside its calls (the database, reading a stored photo) and two
# workers' clocks disagreeing.
CLAIM_MARGIN_SECONDS = 60
# The waits between tries, which the claims must outlive: bot.x_api waits these before its
# extra tries of a call to X (then the last for any further try); bot.recognition a random
# delay of up to min(AWS_BACKOFF_CAP, AWS_BACKOFF_BASE * 2**n) seconds before extra try n.
X_BACKOFF_SECONDS = (1.0, 2.0, 4.0)
AWS_BACKOFF_BASE = 0.5
AWS_BACKOFF_CAP = 20.0


def x_call_longest_seconds() -> float:
    """The longest one call to X can take: every try at its full timeouts, and between tries
    the longest wait (x_api's backoff, or a rate-limit reset up to IMAGEBOT_X_MAX_RATE_LIMIT_WAIT)."""
    connect, read = x_timeout()
    retries = x_max_retries()
    longest_wait = max(max(X_BACKOFF_SECONDS), x_max_rate_limit_wait())
    return (retries + 1) * (connect + read) + retries * longest_wait


def recognition_longest_seconds() -> float:
    """The longest one photo's recognition can take: DetectLabels and DetectModerationLabels,
    each tried 1 + IMAGEBOT_AWS_MAX_RETRIES times at its full timeouts, with the longest backoffs."""
    connect, read = aws_timeout()
    retries = aws_max_retries()
    backoffs = sum(min(AWS_BACKOFF_CAP, AWS_BACKOFF_BASE * 2**attempt) for attempt in range(retries))
    return 2 * ((retries + 1) * (connect + read) + backoffs)


def reply_longest_seconds() -> float:
    """The longest one claim of a reply can take: a look at the bot's timeline for an earlier
    attempt, the POST, and a look after a duplicate refusal."""
    return 3 * x_call_longest_seconds()


def photo_claim_seconds() -> float:
    """A photo claimed for recognition longer ago than this has lost its worker (at least a sweep delay)."""
    return max(float(sweep_after_seconds()), recognition_longest_seconds() + CLAIM_MARGIN_SECONDS)


def reply_claim_seconds() -> float:
    """A reply claimed for posting longer ago than this has lost its worker (at least a sweep delay)."""
    return max(float(sweep_after_seconds()), reply_longest_seconds() + CLAIM_MARGIN_SECONDS)
