"""Every row of the webhook's HTTP contract (ARCHITECTURE.md)."""

import base64
import hashlib
import hmac
import json

import pytest

from bot.events import samples as payloads
from bot.models import Delivery, Tweet
from tests.fixtures.webhook import CONSUMER_SECRET, WEBHOOK_URL, sign

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_answers_405_to_other_methods(client, consumer_secret, method):
    assert getattr(client, method)(WEBHOOK_URL).status_code == 405


def test_it_does_not_need_a_csrf_token(consumer_secret):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    body = b'{"for_user_id": "1"}'
    response = strict.generic("POST", WEBHOOK_URL, body, content_type="application/json", HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=sign(body))
    assert response.status_code == 200
