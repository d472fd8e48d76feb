"""The retry-job aggregate: a failed operation Conductor runs again until it succeeds, gives up
into the dead-letter queue, or is resolved by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.origins import origin_of
from chalicelib.domain.retry import RetryPolicy

TERMINAL = ("succeeded", "dead_lettered", "resolved")
STATUSES = ("scheduled", "running", *TERMINAL)


@dataclass(frozen=True)
class RetryJob:
    id: str
    status: str  # scheduled | running | succeeded | dead_lettered | resolved
    service: str
    target: dict[str, Any]
    error: dict[str, Any]
    policy: dict[str, Any]  # a RetryPolicy as stored (``retry_policy`` reads it)
    created_at: str
    updated_at: str
    attempts: tuple[dict[str, Any], ...] = ()
    attempt_count: int = 0
    #: the attempt a worker holds, and until when (epoch seconds)
    claimed_attempt: int | None = None
    lease_until: int | None = None
    claim_token: str | None = None
    next_attempt_at: str | None = None
    #: "breaker" while its next attempt waits for the service's breaker to let it through
    held: str | None = None
    last_delay: float | None = None
    idempotency_key: str | None = None
    workflow_id: str | None = None
    execution_id: str | None = None
    note: str | None = None
    dead_letter_id: str | None = None
    replay_of: str | None = None
    origin: dict[str, Any] | None = None
    finished_at: str | None = None
    expires_at: int | None = None

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy.from_dict(self.policy)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def source(self) -> dict[str, Any]:
        """Who handed it over (see ``domain/origins.py``)."""
        return origin_of(self)

    def lease_end(self, tz: Any) -> datetime | None:
        """When a running attempt's lease ends (another worker may then take it over)."""
        if self.status != "running" or self.lease_until is None:
            return None
        return datetime.fromtimestamp(float(self.lease_until) + 1, tz=tz)
