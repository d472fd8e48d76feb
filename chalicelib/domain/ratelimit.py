"""Token buckets, pure: the state is two numbers, the clock is an argument.

A policy allows ``quota`` requests per ``window_seconds``: the bucket holds up to ``quota`` tokens
and refills at ``quota / window_seconds`` tokens a second. Each request takes one token. The
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
class BucketState:
    tokens: float
    updated_ms: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    state: BucketState
    remaining: int
    #: Seconds until the bucket is full again (``t`` in the RateLimit header).
    reset_seconds: int
    #: Seconds until one token is available (``Retry-After`` when denied), 0 when allowed.
    retry_after: int

    def header(self, policy: Policy) -> str:
        return f'"{policy.name}";r={self.remaining};t={self.reset_seconds}'


def take(state: BucketState | None, now_ms: int, policy: Policy, cost: int = 1) -> Decision:
    """Refill the bucket up to ``now_ms`` and try to take ``cost`` tokens from it.

    A clock that went backwards (another container's clock ahead of ours) refills nothing.
    """
    if state is None:
        tokens = float(policy.quota)
    else:
        elapsed = max(0, now_ms - state.updated_ms) / 1000
        tokens = min(float(policy.quota), state.tokens + elapsed * policy.rate)
    allowed = tokens >= cost
    if allowed:
        tokens -= cost
    new_state = BucketState(tokens=tokens, updated_ms=max(now_ms, state.updated_ms if state else 0))
    reset = math.ceil((policy.quota - tokens) / policy.rate) if tokens < policy.quota else 0
    retry_after = 0 if allowed else max(1, math.ceil((cost - tokens) / policy.rate))
    return Decision(allowed, new_state, math.floor(tokens), reset, retry_after)
