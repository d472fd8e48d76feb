"""The webhook aggregate: endpoints and their deliveries, as frozen values, with the rules that
need no AWS (delivery ids, which secrets sign, the retry schedule as a ``RetryPolicy``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.ids import RANDOM_CHARS, TIME_CHARS, encode, id_time
from chalicelib.domain.retry import RetryPolicy

#: Svix's schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (+-20 %).
SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_ATTEMPTS = 3
#: Deliveries keep trying as long as their schedule says: no deadline of their own.
NO_DEADLINE = 10 * 365 * 86_400


@dataclass(frozen=True)
class Endpoint:
    """A webhook endpoint. ``secret`` never leaves the service after creation or rotation."""

    id: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    max_attempts: int
    secret: str
    version: int
    created_at: str
    updated_at: str
    description: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    disabled_reason: str | None = None
    rate_limit: int | None = None
    retry_schedule: tuple[int, ...] | None = None
    previous_secret: str | None = None
    previous_secret_expires_at: int | None = None
    consecutive_failures: int = 0

    def secrets(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous during its grace."""
        kept = [self.secret]
        if self.previous_secret and (self.previous_secret_expires_at or 0) > now.timestamp():
            kept.append(self.previous_secret)
        return kept

    @property
    def skip_reason(self) -> str:
        """Why a delivery waits as ``skipped`` instead of being sent."""
        return f"the endpoint was disabled: {self.disabled_reason or 'by hand'}"

    def retry_policy(self, max_attempts: int) -> RetryPolicy:
        """Its schedule as a retry policy: each delay +-20 %, ``max_attempts`` in all."""
        delays = tuple(float(d) for d in self.retry_schedule or SCHEDULE_SECONDS)
        return RetryPolicy(
            strategy="schedule",
            delays=delays,
            jitter="spread",
            max_attempts=max_attempts,
            initial_delay_seconds=delays[0],
            max_delay_seconds=max(delays) * 1.2,
            deadline_seconds=NO_DEADLINE,
        )


@dataclass(frozen=True)
class Delivery:
    """One event to one endpoint, with every attempt; its id is the receiver's dedupe key."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    payload: str  # the exact JSON body that is signed and sent
    status: str  # pending | delivered | failed | skipped (endpoint disabled)
    max_attempts: int
    created_at: str
    updated_at: str
    expires_at: int
    attempts: tuple[dict[str, Any], ...] = ()
    attempt_count: int = 0
    skipped_reason: str | None = None
    lease_until: int | None = None
    claim_token: str | None = None
    next_attempt_at: str | None = None
    dead_letter_id: str | None = None

    def leased(self, attempt: int, now: datetime) -> bool:
        """Whether ``attempt`` is done or being done now (a crashed claim is taken over later)."""
        return self.attempt_count >= attempt and (
            self.lease_until is None or self.lease_until >= now.timestamp()
        )


def delivery_id(event_id: str, webhook_id: str) -> str:
    """``dlv_`` + the event's time + bits of (event, endpoint): one delivery per pair."""
    digest = int.from_bytes(hashlib.sha256(f"{event_id}|{webhook_id}".encode()).digest()[:10], "big")
    ms = int(id_time(event_id).timestamp() * 1000)
    return f"dlv_{encode(ms, TIME_CHARS)}{encode(digest, RANDOM_CHARS)}"
