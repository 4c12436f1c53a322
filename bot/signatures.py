"""X webhook signatures: pure functions, no Django.

Both the CRC answer and the delivery signature are base64(HMAC-SHA256(consumer
secret, message)) prefixed with "sha256=".
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "sha256="


def _sign(consumer_secret: str, message: bytes) -> str:
    digest = hmac.new(consumer_secret.encode("utf-8"), message, hashlib.sha256).digest()
    return PREFIX + base64.b64encode(digest).decode("ascii")


def crc_response_token(consumer_secret: str, crc_token: str) -> str:
    return _sign(consumer_secret, crc_token.encode("utf-8"))


def signature_for(consumer_secret: str, body: bytes) -> str:
    return _sign(consumer_secret, body)


def signature_valid(consumer_secret: str, body: bytes, header: str | None) -> bool:
    """Compare the x-twitter-webhooks-signature header with our own, in constant time."""
    if not header or not consumer_secret:
        return False
    expected = signature_for(consumer_secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))
