"""Rate limiting: one token bucket per caller and route class, shared by every container."""
from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from chalicelib.domain.ratelimit import BucketState, Decision, Policy, take
from chalicelib.errors import DependencyUnavailable

log = logging.getLogger("conductor.ratelimit")

#: Route classes and their default policies; CONDUCTOR_RATE_LIMITS overrides them per stage.
DEFAULT_POLICIES: dict[str, Policy] = {
    "read": Policy("read", 600, 60),
    "write": Policy("write", 120, 60),
    "batch": Policy("batch", 20, 60),
    "admin": Policy("admin", 60, 60),
}
MAX_ATTEMPTS = 12
#: the pause before re-reading a bucket someone else just wrote: 0 to this many seconds
CONTENTION_PAUSE_S = 0.015


class BucketStore(Protocol):
    def get(self, bucket: str) -> BucketState | None: ...

    def replace(self, bucket: str, new: BucketState, expected: BucketState | None,
                expires_at: int) -> bool: ...


def parse_policies(raw: Mapping[str, Any] | None) -> dict[str, Policy]:
    """Defaults overlaid with ``{"read": {"quota": 100, "window_seconds": 60}, ...}``."""
    policies = dict(DEFAULT_POLICIES)
    for name, spec in (raw or {}).items():
        policies[name] = Policy(name, int(spec["quota"]), int(spec["window_seconds"]))
    return policies


class RateLimiter:
    """``check`` takes a token from the caller's bucket for a route class and says what it got.

    Concurrency: read the bucket, compute, write back only if unchanged; a lost race re-reads
    after a short random pause. Each round one contender wins, so a browser's handful of parallel
    requests all get through; only a caller with more requests in flight at once than
    MAX_ATTEMPTS is refused as if the bucket were empty (it is far over any limit).
    If DynamoDB fails, requests are let through and logged: the API stays up, and API Gateway's
    stage throttling still bounds the damage.
    """

    def __init__(
        self,
        store: BucketStore,
        policies: Mapping[str, Policy],
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._store = store
        self._policies = dict(policies)
        self._clock_ms = clock_ms

    def policy(self, route_class: str, overrides: Mapping[str, Any] | None = None) -> Policy:
        if overrides and route_class in overrides:
            spec = overrides[route_class]
            return Policy(route_class, int(spec["quota"]), int(spec["window_seconds"]))
        return self._policies[route_class]

    def check(self, caller: str, route_class: str,
              overrides: Mapping[str, Any] | None = None) -> tuple[Policy, Decision]:
        policy = self.policy(route_class, overrides)
        bucket = f"{caller}#{route_class}"
        try:
            for _ in range(MAX_ATTEMPTS):
                now = self._clock_ms()
                state = self._store.get(bucket)
                decision = take(state, now, policy)
                if not decision.allowed:
                    return policy, decision
                rounded = BucketState(round(decision.state.tokens, 6), decision.state.updated_ms)
                expires = math.ceil(now / 1000) + policy.window_seconds * 2
                if self._store.replace(bucket, rounded, state, expires):
                    return policy, decision
                time.sleep(random.uniform(0, CONTENTION_PAUSE_S))  # noqa: S311 - spreading, not secrecy
        except DependencyUnavailable:
            log.warning("rate limiting unavailable; letting %s through", bucket, exc_info=True)
            return policy, take(None, self._clock_ms(), policy)
        return policy, take(BucketState(0.0, self._clock_ms()), self._clock_ms(), policy)
