"""ISO-8601 UTC times as the API writes them (``2026-11-29T10:00:00.123Z``) and reads them."""

from __future__ import annotations

from datetime import UTC, datetime


def to_iso(moment: datetime) -> str:
    """Millisecond precision with ``Z``: sortable as a string, which the tables rely on."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 time; a time without a zone is taken as UTC. ``ValueError`` if malformed."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utcnow() -> datetime:
    """The wall clock, in one place so services can take a different clock."""
    return datetime.now(UTC)


def epoch_of(text: str) -> int:
    """An ISO-8601 time as whole epoch seconds (rounded up: never due before its time)."""
    moment = parse_iso(text).timestamp()
    whole = int(moment)
    return whole if whole == moment else whole + 1
