"""bot.x_api against the fake X server (tests/fixtures/fake_x.py).

The fake verifies OAuth 1.0a signatures with oauthlib's server side and validates
every request against the X API v2 OpenAPI document, so a test that passes here
sent what X would accept. Waits go through x_api.sleep, replaced by a recorder (x_waits).
"""

from __future__ import annotations

import logging
import time

import pytest
import requests
from requests_oauthlib import OAuth1

from bot import x_api
from bot.events import samples
from bot.x_api import XApiError
from tests.fixtures.fake_x import BOT_USER_ID, DUPLICATE_CONTENT, SECRETS, assert_x_saw_only_valid_requests, rate_limited

REPLY = "Hi @ana. On your image, I can recognise: Dog, Pet, Animal, Mammal."


pytestmark = pytest.mark.usefixtures("x_waits")  # x_api.sleep records what it was asked to wait; nothing waits


# --- Posting a reply ---------------------------------------------------------------


def test_it_posts_a_signed_reply_that_the_spec_allows_and_returns_its_id(fake_x, x_waits):
    post_id = x_api.post_reply(REPLY, in_reply_to_tweet_id="1234567890123456789")

    (request,) = fake_x.requests
    assert_x_saw_only_valid_requests(fake_x)
    assert request.status == 201
    assert fake_x.posts() == [{"text": REPLY, "reply": {"in_reply_to_tweet_id": "1234567890123456789"}}]
    assert post_id.isdigit()
    assert x_api.post_reply("Another text", in_reply_to_tweet_id="1") != post_id
    assert x_waits == []


def test_the_fake_rejects_a_signature_made_with_the_wrong_secret(fake_x, monkeypatch):
    monkeypatch.setenv("X_CONSUMER_SECRET", "not-the-consumer-secret")

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert caught.value.permanent and caught.value.status == 401
    (request,) = fake_x.requests
    assert request.auth_kind == "oauth1" and not request.auth_ok
    assert fake_x.posts() == []


def test_the_fake_rejects_a_signature_made_with_the_wrong_token_secret(fake_x):
    auth = OAuth1(fake_x.consumer_key, fake_x.consumer_secret, fake_x.access_token, "not-the-token-secret")

    response = requests.post(f"{fake_x.url}/2/tweets", json={"text": REPLY}, auth=auth, timeout=5)

    assert response.status_code == 401
    assert fake_x.requests[0].auth_error == "invalid signature, timestamp or parameters"
    assert fake_x.posts() == []


def test_the_fake_rejects_a_replayed_nonce(fake_x):
    auth = OAuth1(fake_x.consumer_key, fake_x.consumer_secret, fake_x.access_token, fake_x.access_token_secret)
    prepared = requests.Request("POST", f"{fake_x.url}/2/tweets", json={"text": REPLY}, auth=auth).prepare()

    with requests.Session() as session:
        first = session.send(prepared, timeout=5)
        replay = session.send(prepared, timeout=5)

    assert first.status_code == 201
    assert replay.status_code == 401
    assert fake_x.requests[1].auth_error == "nonce already used"
    assert len(fake_x.posts()) == 1


def test_the_fake_rejects_a_body_the_spec_does_not_allow(fake_x):
    with x_api.user_session() as session:
        response = session.post(
            f"{fake_x.url}/2/tweets",
            json={"text": REPLY, "reply": {"in_reply_to_tweet_id": "1"}, "in_reply_to_status_id": "1"},
            timeout=5,
        )

    assert response.status_code == 400
    (request,) = fake_x.requests
    assert request.auth_ok and not request.body_valid
    assert "in_reply_to_status_id" in " ".join(request.validation_errors)
    assert fake_x.posts() == []


def test_the_fake_checks_its_own_answers_against_the_spec(fake_x):
    # X's answers say retweet_count; the document requires repost_count: a post stored without
    # the fake's normalising (as a careless emulation would answer) is caught, not passed on.
    post = samples.v2_post(mention_bot=True)
    post["public_metrics"].pop("retweet_count")
    fake_x.stored_posts[post["id"]] = post

    x_api.posts_lookup([post["id"]])

    (request,) = fake_x.calls("GET", "/2/tweets")
    assert any("repost_count" in error for error in request.answer_errors)
    with pytest.raises(AssertionError):
        assert_x_saw_only_valid_requests(fake_x)


def test_an_invalid_reply_target_is_a_permanent_error_with_xs_reason(fake_x):
    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="not-a-post-id")

    assert caught.value.permanent and caught.value.status == 400
    assert "400 Invalid Request" in caught.value.message
    assert "in_reply_to_tweet_id" in caught.value.message
    assert fake_x.posts() == []


# --- Rate limits ----------------------------------------------------------------------


def test_it_waits_for_the_rate_limit_reset_then_posts(fake_x, x_waits):
    headers = rate_limited(2)
    reset = int(headers["x-rate-limit-reset"])
    fake_x.queue("POST", "/2/tweets", 429, headers=headers)

    before = time.time()
    post_id = x_api.post_reply(REPLY, in_reply_to_tweet_id="1")
    after = time.time()

    # Until the reset X named (whole seconds since the epoch), plus one second.
    assert len(x_waits) == 1
    assert reset + 1 - after <= x_waits[0] <= reset + 1 - before
    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [429, 201]
    assert post_id.isdigit()


def test_a_reset_beyond_the_longest_wait_is_handed_back_as_temporary(fake_x, x_waits):
    fake_x.queue("POST", "/2/tweets", 429, headers=rate_limited(3600))

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    error = caught.value
    assert not error.permanent and error.status == 429
    assert 3590 < error.retry_after <= 3601
    assert x_waits == []
    assert len(fake_x.requests) == 1


def test_an_exhausted_24_hour_user_limit_is_the_reset_that_counts(fake_x, x_waits):
    headers = rate_limited(
        5,
        **{
            "x-rate-limit-remaining": "40",
            "x-user-limit-24hour-limit": "17",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(int(time.time()) + 20_000),
        },
    )
    fake_x.queue("POST", "/2/tweets", 429, headers=headers)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert not caught.value.permanent
    assert caught.value.retry_after > 19_000
    assert x_waits == []


# --- Server errors and timeouts ----------------------------------------------------------


def test_it_retries_server_errors_then_posts(fake_x, x_waits, caplog):
    fake_x.queue("POST", "/2/tweets", 500)
    fake_x.queue("POST", "/2/tweets", 503)

    with caplog.at_level(logging.WARNING, logger="bot.x_api"):
        post_id = x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert post_id.isdigit()
    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [500, 503, 201]
    assert x_waits == [1.0, 2.0]
    assert len(caplog.records) == 2
    assert "retry 1 of 3" in caplog.records[0].getMessage()
    for secret in SECRETS:
        assert secret not in caplog.text


def test_it_gives_up_after_the_last_retry_as_temporary(fake_x, x_waits, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "2")
    for _ in range(3):
        fake_x.queue("POST", "/2/tweets", 500)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert not caught.value.permanent and caught.value.status == 500
    assert len(fake_x.requests) == 3
    assert x_waits == [1.0, 2.0]
    assert fake_x.posts() == []


def test_a_request_timeout_from_x_is_retried(fake_x, x_waits):
    fake_x.queue(
        "POST", "/2/tweets", 408, body={"title": "Request Timeout", "detail": "took too long", "type": "about:blank", "status": 408}
    )

    post_id = x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [408, 201]
    assert post_id.isdigit() and x_waits == [1.0]


def test_a_server_error_then_a_duplicate_refusal_says_the_post_may_exist(fake_x, x_waits):
    fake_x.queue("POST", "/2/tweets", 503)
    fake_x.queue("POST", "/2/tweets", 403, body=DUPLICATE_CONTENT)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert caught.value.duplicate and caught.value.maybe_delivered


def test_a_read_timeout_is_temporary(fake_x, x_waits, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "1")
    fake_x.queue("POST", "/2/tweets", 503, delay=0.6)
    fake_x.queue("POST", "/2/tweets", 503, delay=0.6)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert not caught.value.permanent and caught.value.status is None
    assert "read timeout" in caught.value.message
    assert caught.value.maybe_delivered  # X may have acted on a request whose answer never came
    assert len(fake_x.requests) == 2
    assert x_waits == [1.0]


def test_a_retry_after_a_lost_answer_is_refused_as_duplicate(fake_x, monkeypatch):
    # X created the post but its answer never arrived; the retry is the same text again.
    monkeypatch.setenv("IMAGEBOT_X_READ_TIMEOUT", "0.2")
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "1")
    fake_x.queue("POST", "/2/tweets", 201, delay=0.6)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert caught.value.permanent and caught.value.duplicate
    assert caught.value.maybe_delivered  # so the refusal may well be about our own post
    assert len(fake_x.posts()) == 1


def test_an_unreachable_x_is_temporary(fake_x, x_waits, monkeypatch):
    with socket_closed() as url:
        monkeypatch.setenv("X_API_BASE_URL", url)
        with pytest.raises(XApiError) as caught:
            x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert not caught.value.permanent
    assert "connection failed" in caught.value.message
    assert not caught.value.maybe_delivered  # no connection, no post
    assert x_waits == [1.0, 2.0, 4.0]


class socket_closed:
    """A base URL on 127.0.0.1 where nothing listens."""

    def __enter__(self) -> str:
        import socket

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))  # reserved, never listening: connections are refused
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self._socket.close()


# --- Refusals ---------------------------------------------------------------------------


def test_duplicate_content_is_permanent_and_flagged(fake_x, x_waits):
    fake_x.queue("POST", "/2/tweets", 403, body=DUPLICATE_CONTENT)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    error = caught.value
    assert error.permanent and error.duplicate and error.status == 403 and not error.maybe_delivered
    assert error.message == "403 Forbidden: You are not allowed to create a Tweet with duplicate content."
    assert x_waits == []


def test_the_fake_refuses_the_same_text_twice_like_x(fake_x):
    x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="2")

    assert caught.value.duplicate
    assert len(fake_x.posts()) == 1


@pytest.mark.parametrize(
    "body, reason",
    [
        (
            {"title": "Forbidden", "detail": "You are not permitted to reply to this conversation.", "type": "about:blank", "status": 403},
            "403 Forbidden: You are not permitted to reply to this conversation.",
        ),
        (
            {"errors": [{"message": "Your account is suspended and is not permitted to access this feature", "code": 64}]},
            "403 Forbidden: Your account is suspended and is not permitted to access this feature",
        ),
    ],
)
def test_another_refusal_is_permanent_with_xs_reason(fake_x, x_waits, body, reason):
    fake_x.queue("POST", "/2/tweets", 403, body=body)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    error = caught.value
    assert error.permanent and not error.duplicate and error.status == 403
    assert error.message == reason
    assert x_waits == []
    assert len(fake_x.requests) == 1


def test_missing_credentials_are_permanent_and_name_the_variable_not_the_secrets(fake_x, monkeypatch):
    monkeypatch.delenv("X_ACCESS_TOKEN_SECRET")

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    error = caught.value
    assert error.permanent
    assert error.message == "X credentials are not configured: set X_ACCESS_TOKEN_SECRET"
    for secret in SECRETS:
        assert secret not in error.message
    assert fake_x.requests == []


def test_a_missing_bearer_token_is_permanent(fake_x, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "  ")

    with pytest.raises(XApiError) as caught:
        x_api.webhook_list()

    assert caught.value.permanent
    assert "X_BEARER_TOKEN" in caught.value.message
    assert fake_x.requests == []


def test_the_fake_rejects_a_wrong_bearer_token_and_the_wrong_auth_kind(fake_x, monkeypatch):
    with x_api.user_session() as session:
        wrong_kind = session.get(f"{fake_x.url}/2/webhooks", timeout=5)
    monkeypatch.setenv("X_BEARER_TOKEN", "not-the-bearer-token")
    with pytest.raises(XApiError) as caught:
        x_api.webhook_list()

    assert wrong_kind.status_code == 403  # GET /2/webhooks is app-only in the spec
    assert wrong_kind.json()["title"] == "Unsupported Authentication"
    assert caught.value.permanent and caught.value.status == 401
    assert [r.auth_ok for r in fake_x.requests] == [True, False]


# --- Answers that make no sense: checked before use, never a crash ----------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1e20"},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "inf"},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "nan"},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "-1e20"},
        {"x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": "1e400"},
        {"retry-after": "inf"},
        {"retry-after": "nan"},
        {"retry-after": "1e20"},
        {"retry-after": "-5"},
        {"retry-after": "soon"},
    ],
    ids=lambda headers: ",".join(f"{name}={value}" for name, value in headers.items()),
)
def test_a_rate_limit_naming_no_believable_time_is_retried_after_the_usual_backoff(fake_x, x_waits, headers):
    fake_x.queue("POST", "/2/tweets", 429, headers=headers)

    post_id = x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert x_waits == [1.0]  # as for a 429 that names no time
    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [429, 201]
    assert post_id == fake_x.timelines[BOT_USER_ID][0]["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"data": "x"},
        {"data": [1, 2]},
        {"data": {"id": "1" * 25, "text": REPLY}},
        {"data": {"id": 1900000000000000001, "text": REPLY}},
        {"data": {"id": "0123", "text": REPLY}},
        {"data": {"id": "123\n", "text": REPLY}},
        {"data": {"text": REPLY}},
        {},
        [1, 2],
        "x",
        b"<html>posted</html>",
        b"[" * 100_000,  # nested too deep for any JSON parser
    ],
    ids=[
        "data-a-string",
        "data-a-list",
        "id-of-25-digits",
        "id-a-number",
        "id-with-a-leading-zero",
        "id-with-a-newline",
        "no-id",
        "empty-object",
        "a-list",
        "a-string",
        "not-json",
        "too-deep",
    ],
)
def test_a_success_without_a_usable_tweet_id_is_temporary_and_may_have_posted(fake_x, x_waits, body):
    fake_x.queue("POST", "/2/tweets", 201, body=body)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    error = caught.value
    assert not error.permanent and error.maybe_delivered and not error.duplicate
    assert error.message.startswith("POST /2/tweets: X's ") and len(error.message) < 200
    assert len(fake_x.requests) == 1 and x_waits == []  # not posted again at once: it may exist


def test_a_success_that_only_lists_errors_is_a_refusal(fake_x):
    fake_x.queue("POST", "/2/tweets", 200, body={"errors": [{"message": "Text is too long", "title": "Invalid Request"}]})

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    assert caught.value.permanent and not caught.value.maybe_delivered
    assert caught.value.message == "X did not post the reply: Text is too long"


@pytest.mark.parametrize(
    "status, body, message",
    [
        (403, {"errors": 5}, "403 Forbidden"),
        (403, {"errors": "no", "detail": {"why": "no"}}, "403 Forbidden: {'why': 'no'}"),
        (403, {"errors": [{"message": ["not", "text"]}, "junk", {"code": {"a": 1}}]}, "403 Forbidden: ['not', 'text']"),
        (403, {"title": 7, "detail": "x " * 2000}, "403 7: " + " ".join(["x"] * 150)),
        (503, [1, 2], "503 Service Unavailable: [1, 2]"),
        (503, b"<html>\n busy </html>", "503 Service Unavailable: <html> busy </html>"),
        (503, b"[" * 100_000, "503 Service Unavailable: " + "[" * 200),
    ],
    ids=["errors-a-number", "detail-an-object", "errors-of-odd-items", "very-long-detail", "a-list", "html", "too-deep"],
)
def test_an_error_answer_of_any_shape_keeps_its_status_and_a_plain_reason(fake_x, x_waits, monkeypatch, status, body, message):
    monkeypatch.setenv("IMAGEBOT_X_MAX_RETRIES", "0")
    fake_x.queue("POST", "/2/tweets", status, body=body)

    with pytest.raises(XApiError) as caught:
        x_api.post_reply(REPLY, in_reply_to_tweet_id="1")

    error = caught.value
    assert (error.status, error.permanent, error.message) == (status, status < 500, message)


@pytest.mark.parametrize(
    "body",
    [
        {"data": "x"},
        {"data": {"id": "5"}},
        {"data": [1]},
        {"data": [{"text": "a post without an id"}]},
        {"data": [{"id": "1" * 25, "text": REPLY}]},
        {"data": [{"id": "5", "text": REPLY, "referenced_posts": 5}]},
        {"data": [{"id": "5", "text": REPLY, "referenced_posts": ["replied_to"]}]},
        {"data": [{"id": "5", "text": REPLY, "referenced_posts": [{"type": "replied_to", "id": 1}]}]},
        {"data": [{"id": "5", "text": ["not", "text"]}]},
        [1],
    ],
    ids=[
        "data-a-string",
        "data-an-object",
        "a-post-a-number",
        "a-post-without-id",
        "an-id-of-25-digits",
        "references-a-number",
        "a-reference-a-string",
        "a-reference-id-a-number",
        "text-a-list",
        "a-list",
    ],
)
def test_a_timeline_that_cannot_be_read_whole_is_a_temporary_error_not_a_guess(fake_x, body):
    fake_x.queue("GET", f"/2/users/{BOT_USER_ID}/tweets", 200, body=body)

    with pytest.raises(XApiError) as caught:
        x_api.reply_find("1", text=REPLY)

    assert not caught.value.permanent
    assert caught.value.message.startswith(f"GET /2/users/{BOT_USER_ID}/tweets")


def test_an_empty_timeline_finds_nothing(fake_x):
    fake_x.queue("GET", f"/2/users/{BOT_USER_ID}/tweets", 200, body={"data": None, "meta": {"result_count": 0}})

    assert x_api.reply_find("1", text=REPLY) == x_api.TimelineSearch(reply_id=None, same_text_elsewhere=False)


WEBHOOK_ID = "1800000000000000001"
SUBSCRIPTION = f"/2/account_activity/webhooks/{WEBHOOK_ID}/subscriptions/all"


@pytest.mark.parametrize(
    "call, method, path, body",
    [
        (x_api.webhook_list, "GET", "/2/webhooks", {"data": {"id": WEBHOOK_ID}}),
        (x_api.webhook_list, "GET", "/2/webhooks", {"data": [{"url": "https://bot.example.com/webhooks/x/"}]}),
        (lambda: x_api.webhook_create("https://bot.example.com/webhooks/x/"), "POST", "/2/webhooks", {"data": "x"}),
        (lambda: x_api.webhook_create("https://bot.example.com/webhooks/x/"), "POST", "/2/webhooks", {"data": {"id": "1" * 25}}),
        (lambda: x_api.webhook_validate(WEBHOOK_ID), "PUT", f"/2/webhooks/{WEBHOOK_ID}", {"data": [True]}),
        (lambda: x_api.webhook_delete(WEBHOOK_ID), "DELETE", f"/2/webhooks/{WEBHOOK_ID}", {"data": "deleted"}),
        (lambda: x_api.subscription_create(WEBHOOK_ID), "POST", SUBSCRIPTION, {"data": 1}),
        (lambda: x_api.subscription_check(WEBHOOK_ID), "GET", SUBSCRIPTION, {"data": {"subscribed": "no"}}),
    ],
    ids=[
        "list-an-object",
        "list-without-ids",
        "create-a-string",
        "create-a-long-id",
        "validate-a-list",
        "delete-a-string",
        "subscribe-a-number",
        "check-a-string",
    ],
)
def test_a_malformed_webhook_answer_is_a_plain_error(fake_x, call, method, path, body):
    fake_x.queue(method, path, 200, body=body)

    with pytest.raises(XApiError) as caught:
        call()

    assert "X's answer is malformed" in caught.value.message and not caught.value.permanent
    assert [(r.method, r.path) for r in fake_x.requests] == [(method, path)]


# --- Webhooks and the subscription -----------------------------------------------------


def test_webhooks_and_the_subscription_round_trip_with_the_right_auth(fake_x):
    url = "https://bot.example.com/webhooks/x/"

    assert x_api.webhook_list() == []
    webhook = x_api.webhook_create(url)
    assert webhook["url"] == url and webhook["valid"] is True
    assert [w["id"] for w in x_api.webhook_list()] == [webhook["id"]]
    x_api.webhook_validate(webhook["id"])
    assert x_api.subscription_check(webhook["id"]) is False
    x_api.subscription_create(webhook["id"])
    assert x_api.subscription_check(webhook["id"]) is True
    x_api.webhook_delete(webhook["id"])
    assert x_api.webhook_list() == []

    assert [(r.method, r.operation_id, r.auth_kind) for r in fake_x.requests] == [
        ("GET", "getWebhooks", "bearer"),
        ("POST", "createWebhooks", "bearer"),
        ("GET", "getWebhooks", "bearer"),
        ("PUT", "validateWebhooks", "bearer"),
        ("GET", "validateAccountActivitySubscription", "oauth1"),
        ("POST", "createAccountActivitySubscription", "oauth1"),
        ("GET", "validateAccountActivitySubscription", "oauth1"),
        ("DELETE", "deleteWebhooks", "bearer"),
        ("GET", "getWebhooks", "bearer"),
    ]
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("oauth1", "bearer"))
    assert all(200 <= request.status < 300 for request in fake_x.requests)


def test_an_unknown_webhook_is_a_permanent_error(fake_x):
    with pytest.raises(XApiError) as caught:
        x_api.webhook_validate("1234")

    assert caught.value.permanent and caught.value.status == 404
    assert "1234" in caught.value.message


def test_a_webhook_id_that_is_not_numeric_never_reaches_x(fake_x):
    with pytest.raises(XApiError) as caught:
        x_api.webhook_delete("../../2/tweets")

    assert caught.value.permanent
    assert fake_x.requests == []


# --- Post lookup, mentions, X Activity subscriptions, replay ---------------------------------


def test_posts_lookup_refuses_more_than_a_hundred_ids_before_calling_x(fake_x):
    with pytest.raises(x_api.XApiError, match="1 to 100 ids") as refused:
        x_api.posts_lookup([str(1600000000000000000 + i) for i in range(101)])
    assert refused.value.permanent and fake_x.requests == []


def test_posts_lookup_refuses_an_id_that_is_not_an_x_id(fake_x):
    with pytest.raises(x_api.XApiError, match="post id"):
        x_api.posts_lookup(["12abc"])
    assert fake_x.requests == []


@pytest.mark.parametrize("data", ["junk", [1, 2], {"id": "1"}])
def test_a_lookup_answer_whose_data_is_not_a_list_of_posts_is_malformed(fake_x, data):
    fake_x.queue("GET", "/2/tweets", 200, {"data": data})
    with pytest.raises(x_api.XApiError, match="malformed") as malformed:
        x_api.posts_lookup(["1600000000000000001"])
    assert not malformed.value.permanent


def test_mentions_read_sends_since_id_and_the_expansions_the_document_allows(fake_x):
    answer = x_api.mentions_read(fake_x.bot_user_id, since_id="1600000000000000001", max_results=1)
    (call,) = fake_x.requests
    assert call.body_valid, call.validation_errors
    assert call.query["since_id"] == "1600000000000000001" and call.query["max_results"] == "5"  # X's smallest page
    assert answer == {"meta": {"result_count": 0}}


def test_replay_create_answers_xs_job_id_and_refuses_a_malformed_one(fake_x):
    fake_x.webhooks["1800000000000000001"] = {"id": "1800000000000000001", "url": "https://a.example/", "valid": True}
    job_id = x_api.replay_create("1800000000000000001", from_date="202611251000", to_date="202611251100")
    assert job_id == fake_x.replay_jobs[0]["job_id"]
    fake_x.queue("POST", "/2/webhooks/replay", 200, {"data": {"job_id": None, "created_at": "x"}})
    with pytest.raises(x_api.XApiError, match="malformed"):
        x_api.replay_create("1800000000000000001", from_date="202611251000", to_date="202611251100")
