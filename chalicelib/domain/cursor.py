"""Opaque, tamper-evident pagination cursors wrapping DynamoDB's ``LastEvaluatedKey``.

A cursor is ``base64url(json) + "." + base64url(hmac)``: clients cannot read a key they should not
build on, nor forge one into another partition, without the stage's secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from chalicelib.errors import ValidationFailed

_MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(key: dict[str, Any] | None, secret: str) -> str | None:
    """The cursor for a page that ended at ``key``; ``None`` when there is no next page."""
    if not key:
        return None
    payload = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload, secret))}"


def decode_cursor(cursor: str | None, secret: str) -> dict[str, Any] | None:
    """The key a cursor carries; ``ValidationFailed`` for anything altered or malformed."""
    if cursor is None or cursor == "":
        return None
    try:
        body, _, mac = cursor.partition(".")
        payload = _unb64(body)
        valid = hmac.compare_digest(_unb64(mac), _mac(payload, secret))
        key = json.loads(payload) if valid else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        key = None
    if not isinstance(key, dict):
        raise ValidationFailed(
            "The cursor is invalid.",
            [{"field": "cursor", "problem": "must be a next_cursor returned by this endpoint"}],
        )
    return key
