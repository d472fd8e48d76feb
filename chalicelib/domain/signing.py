"""Standard Webhooks signatures (https://www.standardwebhooks.com), pure.

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``; the key is the base64-decoded
part of the secret after ``whsec_`` (not the string itself); the signature header is
``v1,<base64 HMAC-SHA256>``, several separated by spaces (during a secret rotation).
Receivers can use ``verify`` below or any Standard Webhooks library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A webhook that must not be trusted: missing headers, too old, or no matching signature."""


def new_secret(size: int = 24) -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(size)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def signed_headers(secrets_: list[str], msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three headers; one signature per secret (current first), space-separated."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }


def verify(
    secret: str, headers: dict[str, str], body: str, now: int, tolerance: int = TOLERANCE_SECONDS
) -> None:
    """For receivers: raise ``SignatureError`` unless the webhook is authentic and fresh."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        raise SignatureError("timestamp outside the tolerance (replay?)")
    expected = sign(secret, msg_id, int(stamp), body).split(",", 1)[1]
    for candidate in signatures.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return
    raise SignatureError("no matching signature")
