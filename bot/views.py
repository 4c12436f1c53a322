"""The webhook X calls: GET answers the CRC challenge, POST takes signed deliveries.

Cheap checks come first and write nothing: no signature header, a body over the
cap, a wrong signature. Only a validly signed delivery reaches the database, and the
answer never waits for downloads, recognition or replies (those are dispatched).
"""

from __future__ import annotations

import json
import logging
import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from bot import conf, services
from bot.events import PayloadError, payload_load
from bot.signatures import crc_response_token, signature_valid

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-twitter-webhooks-signature"

# The CRC answer and a delivery's signature are the same HMAC under the same secret, so
# the CRC endpoint must never sign something that could pass for a delivery. X's tokens
# are short base64-like strings; no string of these characters parses as a JSON object,
# and the few that parse as another JSON value are refused too.
CRC_TOKEN_MAX = 256
CRC_TOKEN = re.compile(rf"[A-Za-z0-9+/=_.~-]{{1,{CRC_TOKEN_MAX}}}")


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _crc(request)
    return _delivery(request)


@sensitive_variables("secret")
def _crc(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("crc_token")
    if not token:
        return _error(400, "crc_token is required")
    if not crc_signable(token):
        return _error(400, "crc_token must be 1 to 256 letters, digits or +/=_.~-, and not a JSON value")
    secret = conf.x_consumer_secret()
    if not secret:
        logger.error("CRC challenge refused: X_CONSUMER_SECRET is not set")
        return _error(503, "webhook is not configured")
    return JsonResponse({"response_token": crc_response_token(secret, token)})


@sensitive_variables("secret", "header")
def _delivery(request: HttpRequest) -> HttpResponse:
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        return _error(403, f"missing {SIGNATURE_HEADER}")
    cap = conf.webhook_max_bytes()
    if _declared_length(request) > cap:
        return _error(413, f"body over {cap} bytes")
    chunked = _chunked(request)
    if chunked and not request.META.get("wsgi.input_terminated"):
        # This server (runserver, say) cannot hand over a body sent without its length.
        return _error(411, "send the body with a Content-Length")
    try:
        body = request.META["wsgi.input"].read(cap + 1) if chunked else request.read(cap + 1)
    except Exception:  # the server decodes the chunks as they are read: malformed or cut off (gunicorn's ParseException, NoMoreData)
        if not chunked:
            raise
        return _error(400, "malformed or incomplete chunked body")
    if len(body) > cap:
        return _error(413, f"body over {cap} bytes")
    secret = conf.x_consumer_secret()
    if not secret:
        logger.error("delivery refused: X_CONSUMER_SECRET is not set")
        return _error(503, "webhook is not configured")
    if not signature_valid(secret, body, header):
        return _error(403, "bad signature")
    if len(body) <= CRC_TOKEN_MAX and crc_signable(body.decode("ascii", "replace")):
        # Text the CRC endpoint signs for anyone who asks: never a delivery, never stored.
        return _error(400, "body is not a JSON object")
    try:
        payload = payload_load(body)
    except PayloadError as exc:
        services.delivery_record_invalid(body=body, detail=str(exc))
        return _error(400, "body is not a JSON object")
    try:
        services.delivery_record(body=body, payload=payload)
    except services.RecordingFailed:
        return _error(500, "the delivery was kept but its recording did not finish; please retry")
    return JsonResponse({"ok": True})


def _chunked(request: HttpRequest) -> bool:
    """A body sent in chunks, without Content-Length (a proxy may send a delivery so)."""
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower() and not request.META.get("CONTENT_LENGTH")


def crc_signable(token: str) -> bool:
    """What the CRC endpoint signs: a token shaped like X's that is not a JSON value."""
    return bool(CRC_TOKEN.fullmatch(token)) and not _is_json(token)


def _is_json(token: str) -> bool:
    """A number, true, false or null: signed, it would pass as a (junk) delivery."""
    try:
        json.loads(token)
    except ValueError:
        return False
    return True


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
