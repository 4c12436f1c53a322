"""Every row of the webhook's HTTP contract (ARCHITECTURE.md)."""

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.events import samples as payloads
from bot.models import Delivery, Tweet
from tests.fixtures.webhook import CONSUMER_SECRET, WEBHOOK_URL, encode, sign

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def test_it_answers_the_crc_challenge(client, consumer_secret):
    response = client.get(WEBHOOK_URL, {"crc_token": "challenge-123"})
    expected = base64.b64encode(hmac.new(CONSUMER_SECRET.encode(), b"challenge-123", hashlib.sha256).digest()).decode()
    assert response.status_code == 200
    assert response.json() == {"response_token": f"sha256={expected}"}


def test_it_refuses_a_crc_get_without_a_token(client, consumer_secret):
    assert client.get(WEBHOOK_URL).status_code == 400
    assert client.get(WEBHOOK_URL, {"crc_token": ""}).status_code == 400


@pytest.mark.parametrize("token", ['{"for_user_id": "1"}', " abc", "abc\n", "a" * 257, "\ufeffabc", "ab%cd", "123", "1e5", "true", "null"])
def test_it_refuses_a_crc_token_that_is_not_shaped_like_x_s(client, consumer_secret, token):
    # The CRC answer is the same HMAC as a delivery signature: signing a JSON object here
    # would let anyone forge deliveries.
    response = client.get(WEBHOOK_URL, {"crc_token": token})
    assert response.status_code == 400
    assert "response_token" not in response.json()


def test_the_crc_endpoint_cannot_be_used_to_sign_a_forged_delivery(client, consumer_secret):
    forged = f'{{"for_user_id": "{payloads.BOT_ID}", "tweet_create_events": [{json.dumps(payloads.tweet())}]}}'
    answer = client.get(WEBHOOK_URL, {"crc_token": forged})
    signature = answer.json().get("response_token", "sha256=none")

    response = client.generic(
        "POST", WEBHOOK_URL, forged.encode(), content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signature
    )

    assert response.status_code == 403
    assert Delivery.objects.count() == 0 and Tweet.objects.count() == 0


def test_a_webhook_registered_without_the_trailing_slash_is_served_too(post_signed, client, consumer_secret):
    assert client.get(WEBHOOK_URL.rstrip("/"), {"crc_token": "abc"}).status_code == 200
    body = payloads.delivery(payloads.tweet())
    assert post_signed(body, url=WEBHOOK_URL.rstrip("/")).status_code == 200
    assert Tweet.objects.count() == 1


def test_it_says_so_when_the_consumer_secret_is_not_configured(client):
    response = client.get(WEBHOOK_URL, {"crc_token": "x"})
    assert response.status_code == 503
    assert "not configured" in response.json()["error"]


def test_it_forbids_a_post_without_a_signature_and_writes_nothing(client, consumer_secret):
    response = client.post(WEBHOOK_URL, payloads.delivery(payloads.tweet()), content_type="application/json")
    assert response.status_code == 403
    assert Delivery.objects.count() == 0 and Tweet.objects.count() == 0


def test_it_forbids_a_wrong_signature_and_writes_nothing(post_signed):
    response = post_signed(payloads.delivery(payloads.tweet()), secret="not-the-secret")
    assert response.status_code == 403
    assert Delivery.objects.count() == 0 and Tweet.objects.count() == 0


def test_it_forbids_a_tampered_body(client, consumer_secret):
    body = b'{"for_user_id": "1"}'
    response = client.generic(
        "POST", WEBHOOK_URL, body.replace(b"1", b"2"), content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=sign(body)
    )
    assert response.status_code == 403
    assert Delivery.objects.count() == 0


def test_it_refuses_a_body_over_the_cap(post_signed, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_WEBHOOK_MAX_BYTES", "2048")
    response = post_signed(b'{"pad": "' + b"x" * 4096 + b'"}')
    assert response.status_code == 413
    assert Delivery.objects.count() == 0


def test_it_refuses_a_body_longer_than_its_declared_length_allows(post_signed, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_WEBHOOK_MAX_BYTES", "2048")
    body = b'{"pad": "' + b"x" * 4096 + b'"}'
    # A sender that declares a small length is read no further than the cap either way.
    response = post_signed(body, CONTENT_LENGTH="100")
    assert response.status_code in (400, 403)
    assert Tweet.objects.count() == 0


@pytest.mark.parametrize("body", [b"[1, 2, 3]", b'"a string"', b"null", b"{not json", b"\xff\xfe"])
def test_it_records_a_signed_body_that_is_not_a_json_object_and_answers_400(post_signed, body):
    response = post_signed(body)
    assert response.status_code == 400
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.INVALID
    assert bytes(delivery.body) == body


def test_it_accepts_a_signed_mention(post_signed):
    response = post_signed(payloads.delivery(payloads.tweet()))
    assert response.status_code == 200
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECORDED
    assert Tweet.objects.get().status == Tweet.Status.RECEIVED


@pytest.mark.parametrize(
    "payload",
    [
        payloads.delivery(favorite_events=[{"id": "x", "favorited_status": payloads.tweet()}]),
        payloads.delivery(follow_events=[{"type": "follow"}]),
        payloads.delivery(some_event_x_invents_tomorrow=[{"a": 1}]),
        {"data": {"a": "format we do not know"}},
        {},
    ],
)
def test_it_accepts_any_signed_event_type_known_or_not(post_signed, payload):
    assert post_signed(payload).status_code == 200
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECORDED


def test_it_accepts_a_signed_x_activity_mention_and_keeps_its_event_uuid(post_signed):
    post = payloads.v2_post()
    response = post_signed(payloads.activity_delivery(post, event_uuid="2080761390344937796"))
    assert response.status_code == 200
    delivery = Delivery.objects.get()
    assert (delivery.outcome, delivery.event_uuid, delivery.event_kinds) == (
        Delivery.Outcome.RECORDED,
        "2080761390344937796",
        ["post.mention.create"],
    )
    tweet = Tweet.objects.get()
    assert (tweet.x_id, tweet.status, tweet.media_lookup) == (post["id"], Tweet.Status.RECEIVED, True)


_XAA_JUNK = [None, True, 7, "x", [], {}, [1, "a", None], {"id": {"$gt": ""}}, "\ud800", "1" * 30]


@pytest.mark.parametrize("junk", _XAA_JUNK, ids=repr)
@pytest.mark.parametrize("field", ["event_uuid", "filter", "event_type", "tag", "payload", "includes"])
def test_junk_in_any_x_activity_field_gets_200_and_is_kept(post_signed, field, junk):
    payload = payloads.activity_delivery(payloads.v2_post())
    payload["data"][field] = junk
    assert post_signed(payload).status_code == 200
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECORDED


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_answers_405_to_other_methods(client, consumer_secret, method):
    assert getattr(client, method)(WEBHOOK_URL).status_code == 405


def test_it_does_not_need_a_csrf_token(consumer_secret):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    body = b'{"for_user_id": "1"}'
    response = strict.generic("POST", WEBHOOK_URL, body, content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=sign(body))
    assert response.status_code == 200


# --- Nothing the CRC endpoint signs is ever recorded ---------------------------------------

CRC_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_.~-"


def crc_signable_samples() -> list[str]:
    """The attack run's tokens, the edges of the alphabet and lengths, and a seeded random spread."""
    rng = random.Random(13)
    tokens = ["01", "+1", "-0", "abc", "a", "=", "~", "1.", ".5", "1e", "NaN", "Infinity", "0x1f", "a" * 256, CRC_ALPHABET]
    tokens += ["".join(rng.choice(CRC_ALPHABET) for _ in range(rng.randint(1, 256))) for _ in range(200)]
    return tokens


def test_no_text_the_crc_endpoint_signs_is_recorded_when_posted_back_with_that_signature(client, consumer_secret):
    signed = 0
    for token in crc_signable_samples():
        answer = client.get(WEBHOOK_URL, {"crc_token": token})
        if answer.status_code != 200:
            continue  # not signed: nothing to replay
        signed += 1
        signature = answer.json()["response_token"]
        response = client.generic(
            "POST", WEBHOOK_URL, token.encode(), content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signature
        )
        assert response.status_code == 400, token
    assert signed > 200  # the CRC endpoint did sign them: the replays were validly signed
    assert Delivery.objects.count() == 0 and Tweet.objects.count() == 0


@pytest.mark.parametrize("body", [b"null", b"123", b"true", b'"abc"'])
def test_a_signed_json_value_is_still_kept_as_an_invalid_delivery_since_no_crc_answer_signs_it(client, post_signed, body):
    assert client.get(WEBHOOK_URL, {"crc_token": body.decode()}).status_code == 400
    assert post_signed(body).status_code == 400
    assert Delivery.objects.get().outcome == Delivery.Outcome.INVALID


# --- Chunked bodies, through real servers --------------------------------------------------


def post_chunked(host: str, port: int, body: bytes, secret: str, chunk: int = 7) -> tuple[int, bytes]:
    """POST body with Transfer-Encoding: chunked and no Content-Length, written in one go
    (a server may answer before it reads the rest), then read the answer."""
    framed = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + chunk]), body[i : i + chunk]) for i in range(0, len(body), chunk)) + b"0\r\n\r\n"
    head = (
        f"POST {WEBHOOK_URL} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nx-twitter-webhooks-signature: {sign(body, secret)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=30) as connection:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it answered early: the answer is there to read
            connection.sendall(head.encode() + framed)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, response.read()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVERS = {
    "gunicorn": lambda port: [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "imagebot_site.wsgi"],
    "runserver": lambda port: [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
}


@contextlib.contextmanager
def served_site(kind: str, tmp_path: Path):
    """The site under a real server process, on its own SQLite file, with a known consumer secret."""
    database = tmp_path / "site.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "X_CONSUMER_SECRET": CONSUMER_SECRET, "IMAGEBOT_DISPATCH": "inline"}
    env.pop("X_ACCESS_TOKEN", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    server = subprocess.Popen(SERVERS[kind](port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    try:
        yield port, database
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def gunicorn_site(tmp_path_factory):
    with served_site("gunicorn", tmp_path_factory.mktemp("gunicorn")) as site:
        yield site


def deliveries(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("select count(*) from bot_delivery").fetchone()[0]


def test_a_chunked_delivery_to_a_server_that_cannot_decode_it_gets_411_and_stores_nothing(tmp_path):
    # Django's development server hands the view no body without Content-Length.
    with served_site("runserver", tmp_path) as (port, database):
        status, answer = post_chunked("127.0.0.1", port, encode(payloads.delivery(payloads.tweet())), CONSUMER_SECRET)
        assert status == 411 and b"Content-Length" in answer
        assert deliveries(database) == 0


def test_a_chunked_delivery_under_gunicorn_is_read_and_recorded(gunicorn_site):
    port, database = gunicorn_site
    tweet = payloads.tweet()
    body = encode(payloads.delivery(tweet))

    status, answer = post_chunked("127.0.0.1", port, body, CONSUMER_SECRET)

    assert (status, json.loads(answer)) == (200, {"ok": True})
    with sqlite3.connect(database) as db:
        assert db.execute("select x_id from bot_tweet").fetchall() == [(tweet["id_str"],)]
        assert db.execute("select body from bot_delivery").fetchone()[0] == body


@pytest.mark.parametrize("framing", [b"zz\r\n", b"100\r\nabc"], ids=["bad-size", "cut-off"])
def test_a_malformed_or_cut_off_chunked_body_under_gunicorn_gets_400_and_stores_nothing(gunicorn_site, framing):
    port, database = gunicorn_site
    before = deliveries(database)
    head = f"POST {WEBHOOK_URL} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-twitter-webhooks-signature: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode() + framing)
        connection.shutdown(socket.SHUT_WR)  # the sender hangs up mid-body
        response = http.client.HTTPResponse(connection)
        response.begin()
        assert response.status == 400
    assert deliveries(database) == before


def test_a_chunked_delivery_over_the_cap_under_gunicorn_gets_413(gunicorn_site):
    port, database = gunicorn_site
    body = encode({"for_user_id": "1", "pad": "x" * (1024 * 1024)})
    before = deliveries(database)
    status, _ = post_chunked("127.0.0.1", port, body, CONSUMER_SECRET, chunk=64 * 1024)
    assert status == 413
    assert deliveries(database) == before


def test_answering_the_webhook_never_imports_the_reply_text_counter():
    # twitter_text (its emoji tables, pkg_resources) is a third of a cold start; only composing a reply needs it.
    code = (
        "import django, sys; django.setup()\n"
        "from django.test import Client\n"
        "Client().get('/webhooks/x/', {'crc_token': 'abc'})\n"
        "Client().get('/api/tweets/')\n"
        "print(sorted(name for name in ('twitter_text', 'pkg_resources') if name in sys.modules))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imagebot_site.settings", "X_CONSUMER_SECRET": CONSUMER_SECRET}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# Imported on first use, not by the webhook's answer: on Lambda every import is paid on the cold start.
NOT_FOR_THE_WEBHOOK = (
    *("rest_framework.views", "drf_spectacular.views", "django.test"),  # the API's URLs
    *("PIL", "requests_oauthlib", "twitter_text", "pkg_resources"),  # a photo's download, X's client, a reply's text
    # The console's URLs and the admin's registrations (imagebot_site/admin_urls.py): the bot's
    # ModelAdmins, auth's, and the reply composer's regex module, which the console imports.
    *("imagebot_site.admin_urls", "bot.admin", "bot.admin.tweets", "django.contrib.auth.admin", "regex"),
    "whitenoise.middleware",  # set up on the first request for a static file (imagebot_site/middleware.py)
)


def test_answering_the_crc_imports_neither_the_api_nor_pillow_nor_x_s_client_nor_the_console():
    # Through Django's own WSGI handler, as Zappa calls it (django.test's client would import django.test).
    code = (
        "import django, json, sys; django.setup()\n"
        "from wsgiref.util import setup_testing_defaults\n"
        "from django.core.handlers.wsgi import WSGIHandler\n"
        "environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/webhooks/x/', 'QUERY_STRING': 'crc_token=abc'}\n"
        "setup_testing_defaults(environ)\n"
        "statuses = []\n"
        "body = b''.join(WSGIHandler()(environ, lambda status, headers: statuses.append(status)))\n"
        f"print(statuses[0], json.dumps(sorted(name for name in {NOT_FOR_THE_WEBHOOK!r} if name in sys.modules)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imagebot_site.settings", "X_CONSUMER_SECRET": CONSUMER_SECRET}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "200 OK []"
