"""Rate limiting: one bucket per caller and route class, shared by every container, with budgets
per route class, per role and per key."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from chalicelib.domain.ratelimit import Decision, Policy, decide, take
from chalicelib.errors import DependencyUnavailable

log = logging.getLogger("conductor.ratelimit")

#: Route classes and their default policies; CONDUCTOR_RATE_LIMITS overrides them per stage.
DEFAULT_POLICIES: dict[str, Policy] = {
    "read": Policy("read", 600, 60),
    "write": Policy("write", 120, 60),
    "batch": Policy("batch", 20, 60),
    "admin": Policy("admin", 60, 60),
}
#: Per-role defaults (a key's role picks its budget; callers without a valid key are limited by
#: source IP with the "ip" budgets). CONDUCTOR_RATE_LIMITS overrides classes for everyone or per
#: role; a key's own ``rate_limits`` override both.
ROLE_POLICIES: dict[str, dict[str, Policy]] = {
    "admin": {
        "read": Policy("read", 1200, 60),
        "write": Policy("write", 240, 60),
        "batch": Policy("batch", 40, 60),
        "admin": Policy("admin", 60, 60),
    },
    "operator": {
        "read": Policy("read", 600, 60),
        "write": Policy("write", 120, 60),
        "batch": Policy("batch", 20, 60),
    },
    "viewer": {
        "read": Policy("read", 600, 60),
        "write": Policy("write", 60, 60),
        "batch": Policy("batch", 10, 60),
    },
    "ip": {
        "read": Policy("read", 120, 60),
        "write": Policy("write", 30, 60),
        "batch": Policy("batch", 5, 60),
        "admin": Policy("admin", 10, 60),
    },
}


class BucketStore(Protocol):
    def admit(self, bucket: str, now_ms: int, policy: Policy, expires_at: int) -> tuple[bool, float]: ...


def _policy(name: str, spec: Mapping[str, Any]) -> Policy:
    return Policy(name, int(spec["quota"]), int(spec["window_seconds"]))


def parse_policies(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Class defaults overlaid with ``{"read": {"quota": 100, "window_seconds": 60}, ...}`` (for
    everyone) and ``{"roles": {"viewer": {"read": {...}}}}`` (per role)."""
    raw = dict(raw or {})
    policies: dict[str, Any] = dict(DEFAULT_POLICIES)
    for name, spec in raw.items():
        if name != "roles":
            policies[name] = _policy(name, spec)
    policies["roles"] = {
        role: {name: _policy(name, spec) for name, spec in classes.items()}
        for role, classes in (raw.get("roles") or {}).items()
    }
    policies["flat"] = frozenset(name for name in raw if name != "roles")
    return policies


class RateLimiter:
    """``check`` takes one request from the caller's bucket for a route class and says what is
    left. One atomic conditional write (two within a burst): a request is refused only when the
    bucket is empty, however many run at once. If DynamoDB fails, requests are let through and
    logged: the API stays up, and API Gateway's stage throttling still bounds the damage.
    """

    def __init__(
        self,
        store: BucketStore,
        policies: Mapping[str, Any],
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._store = store
        self._policies = dict(policies)
        self._clock_ms = clock_ms

    def policy(
        self, route_class: str, overrides: Mapping[str, Any] | None = None, role: str | None = None
    ) -> Policy:
        """The key's own override, else the configured one for its role, else one configured
        for everyone, else the built-in role default, else the class default."""
        if overrides and route_class in overrides:
            return _policy(route_class, overrides[route_class])
        configured_role = (self._policies.get("roles") or {}).get(role or "", {})
        if route_class in configured_role:
            return configured_role[route_class]
        if route_class in self._policies.get("flat", ()):
            return self._policies[route_class]
        built_in = ROLE_POLICIES.get(role or "", {})
        return built_in.get(route_class) or self._policies[route_class]

    def check(
        self,
        caller: str,
        route_class: str,
        overrides: Mapping[str, Any] | None = None,
        role: str | None = None,
    ) -> tuple[Policy, Decision]:
        policy = self.policy(route_class, overrides, role)
        bucket = f"{caller}#{route_class}"
        now = self._clock_ms()
        expires = math.ceil(now / 1000) + policy.window_seconds * 2
        try:
            allowed, tat = self._store.admit(bucket, now, policy, expires)
        except DependencyUnavailable:
            log.warning("rate limiting unavailable; letting %s through", bucket, exc_info=True)
            return policy, take(None, now, policy)[0]
        return policy, decide(allowed, tat, now, policy)
