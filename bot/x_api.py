"""The X API client: the one seam between imagebot and api.x.com.

Two session factories (OAuth 1.0a user context for the bot account, bearer token
for app-only calls), one `_call` that every request goes through (base URL and
timeouts from settings, retries for temporary failures, rate-limit headers
honoured) and one error type, `XApiError`, that says whether a failure is worth
retrying later. Paths, bodies and auth kinds follow specs/x-api-v2-openapi.json.

Nothing X answers is used before it is checked: a body that is not the JSON object
expected, an id that is not an X id, a header number that is not a believable number of
seconds all become an XApiError (or, for a header, "X did not say"), never a crash.

Secrets never leave the session objects: messages and logs carry the method,
the path and X's own reason only.
"""

from __future__ import annotations

import html
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests_oauthlib import OAuth1Session

from bot import conf

logger = logging.getLogger(__name__)

# The one seam for every wait (rate-limit resets, backoff). Tests replace it.
sleep = time.sleep

_X_ID = re.compile(r"[1-9][0-9]{0,18}")  # X's ids (users, tweets, webhooks), matched whole
_RATE_LIMIT_HEADERS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
# X's longest rate-limit window is a day. A reset or Retry-After further away than twice
# that (1e20, inf) is not believed: the answer is taken as naming no time at all.
LONGEST_BELIEVABLE_WAIT = 48 * 3600.0
_MAX_REASON_CHARS = 300  # of each reason X gives, in messages (and so in last_error)


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


# --- Rate limits ----------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """What one answer says of its endpoint's window (x-rate-limit-limit, -remaining, -reset)."""

    limit: int | None
    remaining: int
    reset: float  # when the window ends, in seconds since the epoch


def rate_limit_of(headers: Mapping[str, str]) -> RateLimit | None:
    """The endpoint's window as X's headers state it; None when they say nothing believable."""
    remaining = _header_number(headers.get("x-rate-limit-remaining"))
    reset = _header_number(headers.get("x-rate-limit-reset"))
    if remaining is None or reset is None or reset - time.time() > LONGEST_BELIEVABLE_WAIT:
        return None
    limit = _header_number(headers.get("x-rate-limit-limit"))
    return RateLimit(limit=int(limit) if limit is not None else None, remaining=int(remaining), reset=reset)


RateLimitObserver = Callable[[RateLimit], None]


def _observe(observer: RateLimitObserver | None, response: requests.Response, method: str, path: str) -> None:
    limit = rate_limit_of(response.headers) if observer is not None else None
    if observer is None or limit is None:
        return
    try:
        observer(limit)
    except Exception:  # the answer matters more than its bookkeeping (a posted reply's id, say)
        logger.exception("could not record the rate limit of %s %s", method, path)


# --- The one call --------------------------------------------------------------


def _call(
    session: requests.Session,
    method: str,
    path: str,
    *,
    json: dict | None = None,
    expected: tuple[int, ...] = (200,),
    on_rate_limit: RateLimitObserver | None = None,
) -> dict[str, Any]:
    """Send one request to X and return its JSON object.

    on_rate_limit is told what every answer's headers say of the endpoint's window.

    Temporary failures (429, 5xx, connection errors, timeouts) are retried up to
    conf.x_max_retries() extra times; a 429 waits for its reset when that is no
    longer than conf.x_max_rate_limit_wait(). Raises XApiError otherwise, also for
    an expected status whose body is not a JSON object.
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
            _observe(on_rate_limit, response, method, path)
            if response.status_code in expected:
                return _json_object(response, method, path)
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
    return conf.X_BACKOFF_SECONDS[min(retry, len(conf.X_BACKOFF_SECONDS) - 1)]  # then the last for any further try


def _describe_transport_error(exc: requests.RequestException, timeout: tuple[float, float]) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return f"connection timed out after {timeout[0]:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer within {timeout[1]:g} s (read timeout)"
    return f"connection failed ({type(exc).__name__})"


# --- Reading X's answers: nothing is used before it is checked ---------------------

_NOT_JSON = object()


def _parsed(response: requests.Response) -> object:
    """The body's JSON value, or _NOT_JSON (not JSON at all, or nested too deep to read)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return _NOT_JSON


def _json_object(response: requests.Response, method: str, path: str) -> dict[str, Any]:
    """The JSON object of a successful answer ({} for an empty body)."""
    if not response.content:
        return {}
    body = _parsed(response)
    if isinstance(body, dict):
        return body
    what = "is not JSON" if body is _NOT_JSON else f"is not a JSON object ({_short(body)})"
    error = XApiError(f"{method} {path}: X's {response.status_code} answer {what}", permanent=False, status=response.status_code)
    error.maybe_delivered = True  # X said it succeeded
    raise error


def _malformed(call: str, what: str) -> XApiError:
    """A successful answer without what it should hold: nothing to use, worth asking again later."""
    error = XApiError(f"{call}: X's answer is malformed: {what}", permanent=False)
    error.maybe_delivered = True  # X said it succeeded
    return error


def is_x_id(value: object) -> bool:
    """Whether `value` is an id as X writes them: a string of 1 to 19 digits, the first not 0."""
    return isinstance(value, str) and _X_ID.fullmatch(value) is not None


def _short(value: object) -> str:
    """A value from X's answer, for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: object) -> str:
    """A reason X gave, as one line of bounded length."""
    return " ".join(str(value).split())[:_MAX_REASON_CHARS].rstrip()


def _error_from_response(response: requests.Response) -> XApiError:
    status = response.status_code
    body = _parsed(response)
    title, reasons, codes = response.reason or "", [], []
    if isinstance(body, dict):
        if body.get("title"):
            title = _text(body["title"])
        if body.get("detail"):
            reasons.append(_text(body["detail"]))
        errors = body.get("errors")
        for item in errors if isinstance(errors, list) else []:
            if isinstance(item, dict):
                message = _text(item["message"]) if item.get("message") else ""
                if message and message not in reasons:
                    reasons.append(message)
                codes.append(item.get("code"))
    elif response.text.strip():
        reasons.append(_text(response.text)[:200])

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


def _header_number(value: str | None) -> float | None:
    """A number in a header: finite and not negative; None when absent or anything else (inf, nan, -1, 12abc)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until the exhausted limit resets, plus one; None when X did not say, or said
    nothing believable (a reset further away than LONGEST_BELIEVABLE_WAIT)."""
    resets = []
    for prefix in _RATE_LIMIT_HEADERS:
        reset, remaining = headers.get(f"{prefix}-reset"), headers.get(f"{prefix}-remaining")
        if reset and (_header_number(remaining) == 0 or (prefix == "x-rate-limit" and remaining is None)):
            resets.append(reset)
    if not resets and headers.get("x-rate-limit-reset"):
        resets.append(headers["x-rate-limit-reset"])
    now = time.time()
    epochs = [epoch for epoch in map(_header_number, resets) if epoch is not None]
    waits = [max(0.0, epoch - now) for epoch in epochs if epoch - now <= LONGEST_BELIEVABLE_WAIT]
    if waits:
        return max(waits) + 1.0
    retry_after = _header_number(headers.get("retry-after"))
    if retry_after is not None and retry_after <= LONGEST_BELIEVABLE_WAIT:
        return retry_after
    return None


def _problems(body: dict) -> str:
    errors = body.get("errors")
    messages = [
        _text(item.get("detail") or item.get("message") or item.get("title"))
        for item in (errors if isinstance(errors, list) else [])
        if isinstance(item, dict)
    ]
    return "; ".join(messages) or "no details"


def _data_object(answer: dict, call: str) -> dict[str, Any]:
    """The answer's `data` object ({} when X sent none)."""
    data = answer.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _malformed(call, f"data is {_short(data)}")
    return data


def _numeric_id(value: str, what: str) -> str:
    value = str(value)
    if not is_x_id(value):
        raise XApiError(f"{what} must be an X id (1 to 19 digits, not starting with 0), not {value!r}", permanent=True)
    return value


# --- Tweets --------------------------------------------------------------------


def post_reply(text: str, *, in_reply_to_tweet_id: str, on_rate_limit: RateLimitObserver | None = None) -> str:
    """Post `text` as a reply in the bot account's name; returns the new tweet's id.

    on_rate_limit: told the posting window's state from every answer (bot.services.pacing).
    """
    body = {"text": text, "reply": {"in_reply_to_tweet_id": str(in_reply_to_tweet_id)}}
    with user_session() as session:
        answer = _call(session, "POST", "/2/tweets", json=body, expected=(200, 201), on_rate_limit=on_rate_limit)
    data = answer.get("data")
    post_id = data.get("id") if isinstance(data, dict) else None
    if is_x_id(post_id):
        return str(post_id)
    if data is None and answer.get("errors"):  # X said yes, and no to the tweet itself
        raise XApiError(f"X did not post the reply: {_problems(answer)}", permanent=True)
    # X said yes without a usable id: the tweet may well exist, so this may have posted it.
    what = f"data is {_short(data)}" if not isinstance(data, dict) else f"the tweet id is {_short(post_id)}"
    raise _malformed("POST /2/tweets", what)


@dataclass(frozen=True)
class TimelineSearch:
    """What the bot's recent tweets say about a reply X refused as a duplicate."""

    reply_id: str | None  # the bot's tweet replying to that tweet, when the timeline shows one
    same_text_elsewhere: bool  # the timeline shows the same text answering another tweet


@dataclass(frozen=True)
class _TimelinePost:
    x_id: str
    replied_to: tuple[str, ...]
    text: str


def reply_find(in_reply_to_tweet_id: str, *, text: str = "", bot_user_id: str = "") -> TimelineSearch:
    """Look through the bot's 100 most recent tweets for its reply to `in_reply_to_tweet_id`.

    X refuses a tweet as "duplicate content" both when an earlier attempt of ours went
    through (its answer lost) and when the same text went to another tweet. Only the
    bot's timeline tells the two apart. The bot's id is the numeric prefix of its access
    token ("<user id>-..."), or `bot_user_id` when the token has none.

    A timeline that cannot be read whole (a post without an id, say) raises XApiError:
    "not found" must never be guessed.
    """
    user_id = _numeric_id(conf.x_bot_user_id() or bot_user_id, "bot user id")
    target = str(in_reply_to_tweet_id)
    path = f"/2/users/{user_id}/tweets"
    with user_session() as session:
        answer = _call(session, "GET", f"{path}?max_results=100&expansions=referenced_posts")
    same_text_elsewhere = False
    for post in _timeline_posts(answer, f"GET {path}"):
        if target in post.replied_to:
            return TimelineSearch(reply_id=post.x_id, same_text_elsewhere=False)
        # X returns text with &amp; &lt; &gt; escaped.
        if text and html.unescape(post.text).strip() == text.strip():
            same_text_elsewhere = True
    return TimelineSearch(reply_id=None, same_text_elsewhere=same_text_elsewhere)


def _timeline_posts(answer: dict, call: str) -> list[_TimelinePost]:
    data = answer.get("data")
    if data is None:  # X leaves `data` out when there is nothing
        return []
    if not isinstance(data, list):
        raise _malformed(call, f"data is {_short(data)}")
    posts = []
    for item in data:
        if not isinstance(item, dict) or not is_x_id(item.get("id")):
            raise _malformed(call, f"a post is {_short(item)}")
        references = item.get("referenced_posts") or item.get("referenced_tweets") or []
        text = item.get("text", "")
        if not isinstance(references, list) or not all(isinstance(ref, dict) for ref in references) or not isinstance(text, str):
            raise _malformed(call, f"post {item['id']} is {_short(item)}")
        replied_to = tuple(ref.get("id") for ref in references if ref.get("type") == "replied_to")
        if not all(is_x_id(ref_id) for ref_id in replied_to):
            raise _malformed(call, f"post {item['id']} replies to {_short(replied_to)}")
        posts.append(_TimelinePost(x_id=item["id"], replied_to=replied_to, text=text))
    return posts


# --- Webhooks (app-only) ----------------------------------------------------------


def webhook_list() -> list[dict]:
    """The app's registered webhooks: [{"id", "url", "valid", "created_at"}, ...]."""
    with app_session() as session:
        answer = _call(session, "GET", "/2/webhooks")
    webhooks = answer.get("data")
    if webhooks is None:
        return []
    if not isinstance(webhooks, list) or not all(isinstance(webhook, dict) and is_x_id(webhook.get("id")) for webhook in webhooks):
        raise _malformed("GET /2/webhooks", f"data is {_short(webhooks)}")
    return webhooks


def webhook_create(url: str) -> dict:
    """Register `url`; X sends it a CRC check before answering. Returns the webhook."""
    with app_session() as session:
        answer = _call(session, "POST", "/2/webhooks", json={"url": url})
    if answer.get("data") is None:
        raise XApiError(f"X did not create the webhook: {_problems(answer)}", permanent=True)
    webhook = _data_object(answer, "POST /2/webhooks")
    if not is_x_id(webhook.get("id")):
        raise _malformed("POST /2/webhooks", f"the webhook id is {_short(webhook.get('id'))}")
    return webhook


def webhook_validate(webhook_id: str) -> None:
    """Ask X to send a fresh CRC check to the webhook (re-enables an invalid one)."""
    path = f"/2/webhooks/{_numeric_id(webhook_id, 'webhook id')}"
    with app_session() as session:
        answer = _call(session, "PUT", path)
    if _data_object(answer, f"PUT {path}").get("valid") is False:
        raise XApiError(f"X could not validate webhook {webhook_id}: {_problems(answer)}", permanent=False)


def webhook_delete(webhook_id: str) -> None:
    path = f"/2/webhooks/{_numeric_id(webhook_id, 'webhook id')}"
    with app_session() as session:
        answer = _call(session, "DELETE", path)
    if _data_object(answer, f"DELETE {path}").get("deleted") is False:
        raise XApiError(f"X did not delete webhook {webhook_id}: {_problems(answer)}", permanent=False)


# --- Account Activity subscription (user context: the bot account) -----------------


def _subscription_path(webhook_id: str) -> str:
    return f"/2/account_activity/webhooks/{_numeric_id(webhook_id, 'webhook id')}/subscriptions/all"


def subscription_create(webhook_id: str) -> None:
    """Subscribe the bot account's activity to the webhook."""
    path = _subscription_path(webhook_id)
    with user_session() as session:
        # The spec requires a body (CreateAccountActivitySubscriptionRequest, an empty object).
        answer = _call(session, "POST", path, json={})
    if _data_object(answer, f"POST {path}").get("subscribed") is False:
        raise XApiError(f"X did not subscribe to webhook {webhook_id}: {_problems(answer)}", permanent=False)


def subscription_check(webhook_id: str) -> bool:
    """Whether the bot account's activity is delivered to the webhook."""
    path = _subscription_path(webhook_id)
    with user_session() as session:
        answer = _call(session, "GET", path)
    subscribed = _data_object(answer, f"GET {path}").get("subscribed", False)
    if not isinstance(subscribed, bool):
        raise _malformed(f"GET {path}", f"subscribed is {_short(subscribed)}")
    return subscribed


# --- X Activity API, post lookup, mentions, replay (issue 9) ------------------------
# The v2 Post shapes these answers carry are read by bot.events.activity; here each answer
# is only checked to be what the call promises (a `data` list of objects, ids that are ids).

POST_LOOKUP_MAX_IDS = 100  # GET /2/tweets takes at most this many ids
MEDIA_FIELDS = "type,url,preview_image_url,alt_text,width,height,media_key"
# This document names them so (X's answers still say referenced_tweets and note_tweet).
POST_EXPANSIONS = "attachments.media_keys,author_id,referenced_posts,in_reply_to_user_id"
POST_FIELDS = "created_at,entities,attachments,note_post,display_text_range,conversation_id"


def _query(params: Mapping[str, object]) -> str:
    from urllib.parse import urlencode

    return urlencode({name: value for name, value in params.items() if value not in (None, "")}, safe=",")


def _data_list(answer: dict, call: str) -> list[dict]:
    data = answer.get("data")
    if data is None:  # X leaves `data` out when there is nothing (every id unknown, no mentions)
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise _malformed(call, f"data is {_short(data)}")
    return data


def posts_lookup(post_ids: list[str]) -> dict[str, Any]:
    """GET /2/tweets for up to 100 posts, with their media (and authors) expanded: X's answer
    ({"data": [...], "includes": {"media", "users"}, "errors": [...] for posts it cannot show})."""
    ids = list(dict.fromkeys(_numeric_id(post_id, "post id") for post_id in post_ids))
    if not ids or len(ids) > POST_LOOKUP_MAX_IDS:
        raise XApiError(f"posts_lookup takes 1 to {POST_LOOKUP_MAX_IDS} ids, not {len(ids)}", permanent=True)
    query = _query(
        {"ids": ",".join(ids), "expansions": "attachments.media_keys,author_id", "media.fields": MEDIA_FIELDS, "user.fields": "username"}
    )
    with user_session() as session:
        answer = _call(session, "GET", f"/2/tweets?{query}")
    _data_list(answer, "GET /2/tweets")
    return answer


def mentions_read(
    user_id: str, *, since_id: str = "", until_id: str = "", pagination_token: str = "", max_results: int = 100
) -> dict[str, Any]:
    """One page of GET /2/users/{id}/mentions, newest first, with media, authors and referenced posts
    expanded: X's answer ({"data", "includes", "meta": {"next_token", "result_count"}})."""
    path = f"/2/users/{_numeric_id(user_id, 'user id')}/mentions"
    query = _query(
        {
            "since_id": since_id and _numeric_id(since_id, "since_id"),
            "until_id": until_id and _numeric_id(until_id, "until_id"),
            "pagination_token": pagination_token,
            "max_results": max(5, min(100, max_results)),
            "expansions": POST_EXPANSIONS,
            "post.fields": POST_FIELDS,
            "media.fields": MEDIA_FIELDS,
            "user.fields": "username",
        }
    )
    with user_session() as session:
        answer = _call(session, "GET", f"{path}?{query}")
    _data_list(answer, f"GET {path}")
    return answer


@dataclass(frozen=True)
class ActivitySubscription:
    """One X Activity subscription of the app's."""

    subscription_id: str
    event_type: str
    user_id: str
    webhook_id: str
    tag: str = ""
    created_at: str = ""


def _str_field(item: dict, key: str) -> str:
    value = item.get(key)
    return value if isinstance(value, str) else ""


def _activity_subscription(item: object, call: str) -> ActivitySubscription:
    if not isinstance(item, dict) or not isinstance(item.get("subscription_id"), str) or not item["subscription_id"]:
        raise _malformed(call, f"a subscription is {_short(item)}")
    filter_ = item.get("filter")
    text = {key: _str_field(item, key) for key in ("event_type", "webhook_id", "tag", "created_at")}
    user_id = _str_field(filter_, "user_id") if isinstance(filter_, dict) else ""
    return ActivitySubscription(item["subscription_id"], text["event_type"], user_id, text["webhook_id"], text["tag"], text["created_at"])


def activity_subscription_create(event_type: str, *, user_id: str, webhook_id: str, tag: str = "") -> ActivitySubscription:
    """POST /2/activity/subscriptions: deliver `event_type` events for `user_id` to the webhook (app-only)."""
    body: dict[str, Any] = {
        "event_type": event_type,
        "filter": {"user_id": _numeric_id(user_id, "user id")},
        "webhook_id": _numeric_id(webhook_id, "webhook id"),
    }
    if tag:
        body["tag"] = tag[:200]
    with app_session() as session:
        answer = _call(session, "POST", "/2/activity/subscriptions", json=body, expected=(200, 201))
    data = _data_object(answer, "POST /2/activity/subscriptions")
    if not data:
        raise XApiError(f"X did not create the subscription: {_problems(answer)}", permanent=True)
    return _activity_subscription(data.get("subscription"), "POST /2/activity/subscriptions")


def activity_subscription_list() -> list[ActivitySubscription]:
    """Every X Activity subscription of the app's (GET /2/activity/subscriptions, every page)."""
    found: list[ActivitySubscription] = []
    token = ""
    for _page in range(100):  # X's limit on subscriptions is far below 100 pages of 1000
        query = _query({"max_results": 1000, "pagination_token": token})
        with app_session() as session:
            answer = _call(session, "GET", f"/2/activity/subscriptions?{query}")
        found.extend(
            _activity_subscription(item, "GET /2/activity/subscriptions") for item in _data_list(answer, "GET /2/activity/subscriptions")
        )
        meta = answer.get("meta")
        token = _str_field(meta, "next_token") if isinstance(meta, dict) else ""
        if not token:
            break
    return found


def activity_subscription_delete(subscription_id: str) -> None:
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", subscription_id or ""):
        raise XApiError(f"not a subscription id: {subscription_id!r}", permanent=True)
    path = f"/2/activity/subscriptions/{subscription_id}"
    with app_session() as session:
        answer = _call(session, "DELETE", path)
    if _data_object(answer, f"DELETE {path}").get("deleted") is False:
        raise XApiError(f"X did not delete subscription {subscription_id}: {_problems(answer)}", permanent=False)


def replay_create(webhook_id: str, *, from_date: str, to_date: str) -> str:
    """POST /2/webhooks/replay: re-send the webhook's events between two UTC minutes (yyyymmddhhmm,
    at most 24 h back). Returns X's job id; X posts a replay_job_status event when it is done."""
    body = {"webhook_id": _numeric_id(webhook_id, "webhook id"), "from_date": from_date, "to_date": to_date}
    with app_session() as session:
        answer = _call(session, "POST", "/2/webhooks/replay", json=body, expected=(200, 201))
    data = _data_object(answer, "POST /2/webhooks/replay")
    if not data:
        raise XApiError(f"X did not start the replay: {_problems(answer)}", permanent=True)
    job_id = data.get("job_id")
    if not is_x_id(job_id):
        raise _malformed("POST /2/webhooks/replay", f"the job id is {_short(job_id)}")
    return str(job_id)


def subscription_delete(webhook_id: str, *, user_id: str) -> None:
    """Stop delivering the account's activity to the webhook (app-only, like X's own console)."""
    path = f"/2/account_activity/webhooks/{_numeric_id(webhook_id, 'webhook id')}/subscriptions/{_numeric_id(user_id, 'user id')}/all"
    with app_session() as session:
        answer = _call(session, "DELETE", path)
    if _data_object(answer, f"DELETE {path}").get("subscribed") is True:
        raise XApiError(f"X did not unsubscribe from webhook {webhook_id}: {_problems(answer)}", permanent=False)
