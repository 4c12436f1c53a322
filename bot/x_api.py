"""The X API client: the one seam between imagebot and api.x.com.

Two session factories (OAuth 1.0a user context for the bot account, bearer token
for app-only calls), one `_call` that every request goes through (base URL and
timeouts from settings, retries for temporary failures, rate-limit headers
honoured) and one error type, `XApiError`, that says whether a failure is worth
retrying later. Paths, bodies and auth kinds follow specs/x-api-v2-openapi.json.

Secrets never leave the session objects: messages and logs carry the method,
the path and X's own reason only.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import requests
import urllib3
from requests_oauthlib import OAuth1Session

from bot import conf

logger = logging.getLogger(__name__)

# The one seam for every wait (rate-limit resets, backoff). Tests replace it.
sleep = time.sleep

_BACKOFF_SECONDS = (1.0, 2.0, 4.0)  # then 4 s for any further try
_NUMERIC_ID = re.compile(r"^[0-9]{1,19}$")  # the spec's pattern for tweet and webhook ids
_RATE_LIMIT_HEADERS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")


class XApiError(Exception):
    """A call to X failed.

    permanent: retrying the same request will not help (bad credentials, refused
    content, invalid request). Otherwise it is worth retrying later, after
    `retry_after` seconds when X said so (429).
    duplicate: X refused the tweet as duplicate content, which after an earlier
    attempt whose answer was lost usually means the tweet already exists.
    maybe_delivered: an earlier try of the same call may have reached X and been
    carried out although its answer never came (a read timeout, a cut connection, 5xx).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        duplicate: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.duplicate = duplicate
        self.maybe_delivered = False

    def __repr__(self) -> str:
        return (
            f"XApiError({self.message!r}, permanent={self.permanent}, status={self.status}, "
            f"retry_after={self.retry_after}, duplicate={self.duplicate})"
        )


# --- Sessions ------------------------------------------------------------------


def _require(values: dict[str, str | None]) -> None:
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise XApiError(f"X credentials are not configured: set {', '.join(missing)}", permanent=True)


def user_session() -> requests.Session:
    """OAuth 1.0a user context: the app's keys plus the bot account's access token."""
    consumer_key, consumer_secret = conf.x_consumer_key(), conf.x_consumer_secret()
    access_token, access_token_secret = conf.x_access_token(), conf.x_access_token_secret()
    _require(
        {
            "X_CONSUMER_KEY": consumer_key,
            "X_CONSUMER_SECRET": consumer_secret,
            "X_ACCESS_TOKEN": access_token,
            "X_ACCESS_TOKEN_SECRET": access_token_secret,
        }
    )
    return OAuth1Session(
        consumer_key,
        client_secret=consumer_secret,
        resource_owner_key=access_token,
        resource_owner_secret=access_token_secret,
    )


def app_session() -> requests.Session:
    """App-only context: the app's bearer token."""
    bearer_token = conf.x_bearer_token()
    _require({"X_BEARER_TOKEN": bearer_token})
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {bearer_token}"
    return session


# --- The one call --------------------------------------------------------------


def _call(
    session: requests.Session,
    method: str,
    path: str,
    *,
    json: dict | None = None,
    expected: tuple[int, ...] = (200,),
) -> dict:
    """Send one request to X and return its JSON body.

    Temporary failures (429, 5xx, connection errors, timeouts) are retried up to
    conf.x_max_retries() extra times; a 429 waits for its reset when that is no
    longer than conf.x_max_rate_limit_wait(). Raises XApiError otherwise.
    """
    url = conf.x_api_base_url() + path
    timeout = conf.x_timeout()
    max_retries = conf.x_max_retries()
    retry = 0
    maybe_delivered = False  # by an earlier try of this call
    while True:
        try:
            response = session.request(method, url, json=json, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            error = XApiError(f"{method} {path}: {_describe_transport_error(exc, timeout)}", permanent=False)
            error.maybe_delivered = maybe_delivered or _may_have_arrived(exc)
            wait = _backoff(retry)
        except requests.RequestException as exc:  # bad URL and the like: our configuration, not X
            raise XApiError(f"{method} {path}: {type(exc).__name__}: {exc}", permanent=True) from exc
        else:
            if response.status_code in expected:
                return _json_body(response, method, path)
            error = _error_from_response(response)
            error.maybe_delivered = maybe_delivered or response.status_code >= 500
            if error.permanent:
                raise error
            wait = error.retry_after if error.retry_after is not None else _backoff(retry)
            if response.status_code == 429 and wait > conf.x_max_rate_limit_wait():
                raise error
        maybe_delivered = error.maybe_delivered
        if retry >= max_retries:
            raise error
        retry += 1
        logger.warning(
            "X API %s %s failed (%s); retry %d of %d in %.1f s",
            method,
            path,
            error.message,
            retry,
            max_retries,
            wait,
        )
        sleep(wait)


def _may_have_arrived(exc: requests.RequestException) -> bool:
    """Whether the request may have reached X: not when no connection was ever made."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(reason, urllib3.exceptions.NewConnectionError)


def _backoff(retry: int) -> float:
    return _BACKOFF_SECONDS[min(retry, len(_BACKOFF_SECONDS) - 1)]


def _describe_transport_error(exc: requests.RequestException, timeout: tuple[float, float]) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return f"connection timed out after {timeout[0]:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer within {timeout[1]:g} s (read timeout)"
    return f"connection failed ({type(exc).__name__})"


def _json_body(response: requests.Response, method: str, path: str) -> dict:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        error = XApiError(f"{method} {path}: {response.status_code} answer is not JSON", permanent=False, status=response.status_code)
        error.maybe_delivered = True  # X said it succeeded
        raise error from None
    return body if isinstance(body, dict) else {"data": body}


def _error_from_response(response: requests.Response) -> XApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    title, reasons, codes = response.reason or "", [], []
    if isinstance(body, dict):
        title = body.get("title") or title
        if body.get("detail"):
            reasons.append(str(body["detail"]))
        for item in body.get("errors") or []:
            if isinstance(item, dict):
                if item.get("message") and item["message"] not in reasons:
                    reasons.append(str(item["message"]))
                codes.append(item.get("code"))
    elif response.text.strip():
        reasons.append(response.text.strip()[:200])

    retry_after = None
    if status == 429:
        retry_after = _rate_limit_wait(response.headers)
        if retry_after is not None:
            reasons.append(f"rate limit resets in {retry_after:.0f} s")

    message = f"{status} {title}".strip()
    if reasons:
        message += ": " + "; ".join(reasons)
    duplicate = 187 in codes or any("duplicate" in reason.lower() for reason in reasons)
    return XApiError(
        message,
        permanent=status not in (408, 429) and status < 500,
        status=status,
        retry_after=retry_after,
        duplicate=duplicate,
    )


def _rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until the exhausted limit resets, plus one; None when X did not say."""
    resets = []
    for prefix in _RATE_LIMIT_HEADERS:
        reset, remaining = headers.get(f"{prefix}-reset"), headers.get(f"{prefix}-remaining")
        if reset and (remaining == "0" or (prefix == "x-rate-limit" and remaining is None)):
            resets.append(reset)
    if not resets and headers.get("x-rate-limit-reset"):
        resets.append(headers["x-rate-limit-reset"])
    epochs = []
    for reset in resets:
        with contextlib.suppress(ValueError):
            epochs.append(float(reset))
    if epochs:
        return max(0.0, max(epochs) - time.time()) + 1.0
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _problems(body: dict) -> str:
    messages = [
        str(item.get("detail") or item.get("message") or item.get("title")) for item in body.get("errors") or [] if isinstance(item, dict)
    ]
    return "; ".join(messages) or "no details"


def _numeric_id(value: str, what: str) -> str:
    value = str(value)
    if not _NUMERIC_ID.match(value):
        raise XApiError(f"{what} must be 1 to 19 digits, not {value!r}", permanent=True)
    return value


# --- Tweets --------------------------------------------------------------------


def post_reply(text: str, *, in_reply_to_tweet_id: str) -> str:
    """Post `text` as a reply in the bot account's name; returns the new tweet's id."""
    body = {"text": text, "reply": {"in_reply_to_tweet_id": str(in_reply_to_tweet_id)}}
    with user_session() as session:
        answer = _call(session, "POST", "/2/tweets", json=body, expected=(200, 201))
    post_id = (answer.get("data") or {}).get("id")
    if not post_id:
        # X said yes without an id: with errors it refused, without them the answer is garbled.
        error = XApiError(f"X returned no tweet id: {_problems(answer)}", permanent=bool(answer.get("errors")))
        error.maybe_delivered = not error.permanent
        raise error
    return str(post_id)


@dataclass(frozen=True)
class TimelineSearch:
    """What the bot's recent tweets say about a reply X refused as a duplicate."""

    reply_id: str | None  # the bot's tweet replying to that tweet, when the timeline shows one
    same_text_elsewhere: bool  # the timeline shows the same text answering another tweet


def reply_find(in_reply_to_tweet_id: str, *, text: str = "", bot_user_id: str = "") -> TimelineSearch:
    """Look through the bot's 100 most recent tweets for its reply to `in_reply_to_tweet_id`.

    X refuses a tweet as "duplicate content" both when an earlier attempt of ours went
    through (its answer lost) and when the same text went to another tweet. Only the
    bot's timeline tells the two apart. The bot's id is the numeric prefix of its access
    token ("<user id>-..."), or `bot_user_id` when the token has none.
    """
    user_id = _numeric_id(conf.x_bot_user_id() or bot_user_id, "bot user id")
    target = str(in_reply_to_tweet_id)
    with user_session() as session:
        answer = _call(session, "GET", f"/2/users/{user_id}/tweets?max_results=100&expansions=referenced_posts")
    same_text_elsewhere = False
    for tweet in answer.get("data") or []:
        if not isinstance(tweet, dict):
            continue
        references = tweet.get("referenced_posts") or tweet.get("referenced_tweets") or []
        replied_to = [str(ref.get("id")) for ref in references if isinstance(ref, dict) and ref.get("type") == "replied_to"]
        if target in replied_to:
            return TimelineSearch(reply_id=str(tweet["id"]), same_text_elsewhere=False)
        # X returns text with &amp; &lt; &gt; escaped.
        if text and html.unescape(str(tweet.get("text", ""))).strip() == text.strip():
            same_text_elsewhere = True
    return TimelineSearch(reply_id=None, same_text_elsewhere=same_text_elsewhere)


# --- Webhooks (app-only) ----------------------------------------------------------


def webhook_list() -> list[dict]:
    """The app's registered webhooks: [{"id", "url", "valid", "created_at"}, ...]."""
    with app_session() as session:
        answer = _call(session, "GET", "/2/webhooks")
    return list(answer.get("data") or [])


def webhook_create(url: str) -> dict:
    """Register `url`; X sends it a CRC check before answering. Returns the webhook."""
    with app_session() as session:
        answer = _call(session, "POST", "/2/webhooks", json={"url": url})
    webhook = answer.get("data")
    if not webhook or not webhook.get("id"):
        raise XApiError(f"X did not create the webhook: {_problems(answer)}", permanent=True)
    return webhook


def webhook_validate(webhook_id: str) -> None:
    """Ask X to send a fresh CRC check to the webhook (re-enables an invalid one)."""
    path = f"/2/webhooks/{_numeric_id(webhook_id, 'webhook id')}"
    with app_session() as session:
        answer = _call(session, "PUT", path)
    if (answer.get("data") or {}).get("valid") is False:
        raise XApiError(f"X could not validate webhook {webhook_id}: {_problems(answer)}", permanent=False)


def webhook_delete(webhook_id: str) -> None:
    path = f"/2/webhooks/{_numeric_id(webhook_id, 'webhook id')}"
    with app_session() as session:
        answer = _call(session, "DELETE", path)
    if (answer.get("data") or {}).get("deleted") is False:
        raise XApiError(f"X did not delete webhook {webhook_id}: {_problems(answer)}", permanent=False)


# --- Account Activity subscription (user context: the bot account) -----------------


def _subscription_path(webhook_id: str) -> str:
    return f"/2/account_activity/webhooks/{_numeric_id(webhook_id, 'webhook id')}/subscriptions/all"


def subscription_create(webhook_id: str) -> None:
    """Subscribe the bot account's activity to the webhook."""
    with user_session() as session:
        # The spec requires a body (CreateAccountActivitySubscriptionRequest, an empty object).
        answer = _call(session, "POST", _subscription_path(webhook_id), json={})
    if (answer.get("data") or {}).get("subscribed") is False:
        raise XApiError(f"X did not subscribe to webhook {webhook_id}: {_problems(answer)}", permanent=False)


def subscription_check(webhook_id: str) -> bool:
    """Whether the bot account's activity is delivered to the webhook."""
    with user_session() as session:
        answer = _call(session, "GET", _subscription_path(webhook_id))
    return bool((answer.get("data") or {}).get("subscribed"))
