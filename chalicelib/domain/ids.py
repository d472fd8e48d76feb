"""Prefixed, sortable, random identifiers (``evt_01JD...``), ULID-shaped.

The first 10 characters after the prefix encode the creation time in milliseconds (Crockford
base32), so ids sort by time and an id alone tells when it was made (the timeline uses that to find
an event's partition); the last 16 carry 80 random bits.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
PREFIXES = frozenset({"sch", "exe", "rty", "dlq", "whk", "dlv", "evt", "key", "con"})
TIME_CHARS = 10
RANDOM_CHARS = 16


def id_pattern(prefix: str) -> str:
    """The regular expression of an id with ``prefix`` (``sch`` -> ``^sch_`` + 26 characters)."""
    return f"^{prefix}_[0-9A-Z]{{{TIME_CHARS + RANDOM_CHARS}}}$"


def encode(value: int, length: int) -> str:
    """``value`` in ``length`` Crockford base32 characters."""
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(
    prefix: str,
    now_ms: int | None = None,
    randbits: Callable[[int], int] = secrets.randbits,
) -> str:
    """A new id for ``prefix``, made at ``now_ms`` (defaults to the wall clock)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    return f"{prefix}_{encode(now_ms, TIME_CHARS)}{encode(randbits(80), RANDOM_CHARS)}"


def id_time(identifier: str) -> datetime:
    """When an id was made; ``ValueError`` when it is not one of ours."""
    prefix, _, body = identifier.partition("_")
    if prefix not in PREFIXES or len(body) != TIME_CHARS + RANDOM_CHARS:
        raise ValueError(f"not a Conductor id: {identifier!r}")
    try:
        ms = 0
        for char in body[:TIME_CHARS]:
            ms = ms * 32 + _DECODE[char]
        for char in body[TIME_CHARS:]:
            _DECODE[char]
        return from_ms(ms)
    except (KeyError, OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"not a Conductor id: {identifier!r}") from exc


def from_ms(ms: int) -> datetime:
    """The exact instant of a millisecond timestamp (no float rounding)."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def is_id(identifier: str, prefix: str) -> bool:
    """Whether ``identifier`` is a well-formed id with ``prefix``."""
    if not identifier.startswith(prefix + "_"):
        return False
    try:
        id_time(identifier)
    except ValueError:
        return False
    return True
