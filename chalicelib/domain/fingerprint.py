"""Error fingerprints: the same failure gets the same fingerprint whatever ids or numbers it
carries, so dead letters group by cause."""

from __future__ import annotations

import hashlib
import re

_VARIABLE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuids
    r"|\b[a-z]{3}_[0-9A-Z]{26}\b"  # our ids
    r"|\b0x[0-9a-f]+\b|\b\d+(\.\d+)?\b",  # numbers
    re.IGNORECASE,
)


def normalize(message: str) -> str:
    return _VARIABLE.sub("#", message.strip())[:500]


def fingerprint(service: str, error_type: str, message: str) -> str:
    text = f"{service}|{error_type}|{normalize(message)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
