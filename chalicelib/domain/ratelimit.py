"""Rate limits, pure: a token bucket kept as one number (GCRA), the clock is an argument.

A policy allows ``quota`` requests per ``window_seconds``: a burst of up to ``quota``, refilled at
``quota / window_seconds`` a second. Kept as GCRA's theoretical arrival time, so a request is one
atomic conditional write in DynamoDB (no read, no lost race to retry). The
headers follow the IETF httpapi RateLimit draft: ``RateLimit-Policy: "read";q=300;w=60`` and
``RateLimit: "read";r=<remaining>;t=<seconds until full>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str
    quota: int
    window_seconds: int

    @property
    def rate(self) -> float:
        """Tokens refilled per second."""
        return self.quota / self.window_seconds

    def header(self) -> str:
        return f'"{self.name}";q={self.quota};w={self.window_seconds}'


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    #: Seconds until the bucket is full again (``t`` in the RateLimit header).
    reset_seconds: int
    #: Seconds until one request is allowed (``Retry-After`` when denied), 0 when allowed.
    retry_after: int

    def header(self, policy: Policy) -> str:
        return f'"{policy.name}";r={self.remaining};t={self.reset_seconds}'


def interval_ms(policy: Policy) -> float:
    """The emission interval: one request's share of the window."""
    return policy.window_seconds * 1000 / policy.quota


def step(tat_ms: float | None, now_ms: int, policy: Policy) -> tuple[bool, float]:
    """GCRA (the generic cell rate algorithm, a token bucket written as one number): the
    theoretical arrival time ``tat`` moves on one interval per allowed request; a request is
    allowed when that keeps ``tat`` within one window of now. Returns (allowed, new tat)."""
    start = max(tat_ms if tat_ms is not None else now_ms, now_ms)
    after = start + interval_ms(policy)
    if after - now_ms <= policy.window_seconds * 1000 + 1e-6:
        return True, after
    return False, start


def decide(allowed: bool, tat_ms: float, now_ms: int, policy: Policy) -> Decision:
    """The headers' view of a bucket at ``tat_ms`` (after the request, when it was allowed)."""
    interval, window = interval_ms(policy), policy.window_seconds * 1000
    remaining = max(0, min(policy.quota, math.floor((now_ms + window - tat_ms) / interval + 1e-9)))
    reset = max(0, math.ceil((tat_ms - now_ms) / 1000 - 1e-9))
    retry_after = 0 if allowed else max(1, math.ceil((tat_ms + interval - now_ms - window) / 1000 - 1e-9))
    return Decision(allowed, remaining, reset, retry_after)


def take(tat_ms: float | None, now_ms: int, policy: Policy) -> tuple[Decision, float]:
    """One request against a bucket at ``tat_ms``: the decision and the bucket's new ``tat``."""
    allowed, tat = step(tat_ms, now_ms, policy)
    return decide(allowed, tat, now_ms, policy), tat
