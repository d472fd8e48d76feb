"""The dead-letter aggregate: work that gave up (a retry job, a webhook delivery, a message an
SQS DLQ received), kept for people to browse, resolve or replay."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.ids import RANDOM_CHARS, TIME_CHARS, encode


@dataclass(frozen=True)
class DeadLetter:
    id: str
    status: str  # open | resolved | replayed
    source: str  # "retry_job" | "webhook" | "sqs:<queue name>"
    service: str
    fingerprint: str  # one fingerprint is one group of the same failure
    error: dict[str, Any]
    payload: dict[str, Any]  # what a replay needs (a job's target and policy, a message's body)
    created_at: str
    attempts: int = 0
    retry_job_id: str | None = None
    replay_job_id: str | None = None
    note: str | None = None
    resolved_at: str | None = None
    expires_at: int | None = None


def derived_id(ms: int, seed: str) -> str:
    """A ``dlq_`` id whose time is ``ms`` and whose random part comes from ``seed``: the same
    source always yields the same entry, so a redelivered source is recorded once."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10], "big")
    return f"dlq_{encode(ms, TIME_CHARS)}{encode(digest, RANDOM_CHARS)}"
