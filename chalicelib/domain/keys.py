"""API key material: random, prefixed, and only ever stored as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

KEY_PREFIX = "cnd_"
ROLES = ("admin", "operator", "viewer")


def generate_key(token_bytes: int = 32) -> str:
    """A new secret key: ``cnd_`` + 43 url-safe characters (256 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(token_bytes)


def hash_key(key: str) -> str:
    """SHA-256 is enough here: keys carry 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """An API key as Conductor keeps it: the SHA-256 of the secret, never the secret."""

    id: str
    key_hash: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None
    rate_limits: dict[str, Any] | None = None
