"""Portal API v1 request signing (DESIGN.md §5), shared by the http target and the
sandbox portal so that both sides compute exactly the same thing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER_KEY = "X-Bridge-Key"
HEADER_TIMESTAMP = "X-Bridge-Timestamp"
HEADER_NONCE = "X-Bridge-Nonce"
HEADER_SIGNATURE = "X-Bridge-Signature"

MAX_CLOCK_SKEW = 300  # seconds; the portal refuses a timestamp further off than this
NONCE_TTL = 600  # seconds; a nonce seen within this window is a replay


def string_to_sign(
    method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path_with_query, timestamp, nonce, body_hash)).encode()


def signature(
    secret: str, method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    message = string_to_sign(method, path_with_query, timestamp, nonce, body)
    return hmac.digest(secret.encode(), message, "sha256").hex()  # OpenSSL's one-shot HMAC


def sign_headers(
    key: str, secret: str, method: str, path_with_query: str, body: bytes
) -> dict[str, str]:
    """The four headers that authenticate one request."""
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(16)
    return {
        HEADER_KEY: key,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(secret, method, path_with_query, timestamp, nonce, body),
    }


def verify(
    secret: str,
    method: str,
    path_with_query: str,
    timestamp: str,
    nonce: str,
    body: bytes,
    given: str,
) -> bool:
    expected = signature(secret, method, path_with_query, timestamp, nonce, body)
    return hmac.compare_digest(expected, given.lower())
