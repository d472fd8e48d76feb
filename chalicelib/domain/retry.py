"""Retry policies: how long to wait before the next attempt, and when to give up.

Jitter follows AWS's "Exponential Backoff and Jitter": ``full`` = random(0, d), ``equal`` =
d/2 + random(0, d/2), ``decorrelated`` = min(max_delay, random(initial, previous * 3)). The random
source is an argument (``random.Random(seed).random`` for determinism), and so is the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain import ssrf

STRATEGIES = ("exponential", "linear", "fixed")
JITTERS = ("none", "full", "equal", "decorrelated")
#: Not offered on the API: a webhook endpoint's list of delays ("schedule"), each spread +-20 %
#: ("spread"), as Svix's are.
INTERNAL_STRATEGIES = ("schedule",)
INTERNAL_JITTERS = ("spread",)


@dataclass(frozen=True)
class RetryPolicy:
    strategy: str = "exponential"
    max_attempts: int = 5
    initial_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    multiplier: float = 2.0
    increment_seconds: float | None = None
    jitter: str = "full"
    non_retryable: tuple[str, ...] = field(default_factory=tuple)
    deadline_seconds: int = 86_400
    #: the ``schedule`` strategy's delays after attempt 1, 2, ... (the last one repeats)
    delays: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, object]:
        extra: dict[str, object] = {"delays": list(self.delays)} if self.delays else {}
        return {
            **extra,
            "strategy": self.strategy,
            "max_attempts": self.max_attempts,
            "initial_delay_seconds": self.initial_delay_seconds,
            "max_delay_seconds": self.max_delay_seconds,
            "multiplier": self.multiplier,
            "increment_seconds": self.increment_seconds,
            "jitter": self.jitter,
            "non_retryable": list(self.non_retryable),
            "deadline_seconds": self.deadline_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RetryPolicy:
        values = dict(data)
        values["non_retryable"] = tuple(values.get("non_retryable") or ())  # type: ignore[arg-type]
        if values.get("delays"):
            values["delays"] = tuple(values["delays"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


def base_delay(policy: RetryPolicy, attempt: int) -> float:
    """The un-jittered wait after attempt number ``attempt`` (1-based) failed, capped."""
    n = max(1, attempt)
    if policy.strategy == "exponential":
        # cap the exponent first: 2.0 ** 2000 overflows a float
        raw = policy.initial_delay_seconds * policy.multiplier ** min(n - 1, 200)
    elif policy.strategy == "linear":
        increment = (
            policy.increment_seconds
            if policy.increment_seconds is not None
            else (policy.initial_delay_seconds)
        )
        raw = policy.initial_delay_seconds + increment * (n - 1)
    elif policy.strategy == "schedule" and policy.delays:
        raw = policy.delays[min(n - 1, len(policy.delays) - 1)]
    else:
        raw = policy.initial_delay_seconds
    return min(policy.max_delay_seconds, raw)


def jittered_delay(
    policy: RetryPolicy, attempt: int, previous_delay: float | None, rand: Callable[[], float]
) -> float:
    """The wait after ``attempt`` failed, with the policy's jitter; never above max_delay."""
    base = base_delay(policy, attempt)
    if policy.jitter == "full":
        delay = rand() * base
    elif policy.jitter == "equal":
        delay = base / 2 + rand() * base / 2
    elif policy.jitter == "spread":
        delay = base * (0.8 + 0.4 * rand())
    elif policy.jitter == "decorrelated":
        low = policy.initial_delay_seconds
        high = max(low, (previous_delay if previous_delay is not None else low) * 3)
        delay = low + rand() * (high - low)
    else:
        delay = base
    return min(policy.max_delay_seconds, max(0.0, delay))


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_seconds: float
    #: why it stops: "non_retryable" | "exhausted" | "deadline" (None while retrying)
    reason: str | None


#: Errors no retry can fix: the outbound guard refused the target (nothing was sent).
NEVER_RETRIED = frozenset({ssrf.ERROR_TYPE})


def decide(
    policy: RetryPolicy,
    attempt: int,
    error_type: str,
    created_at: datetime,
    now: datetime,
    rand: Callable[[], float],
    previous_delay: float | None = None,
    retry_after: float | None = None,
) -> RetryDecision:
    """After attempt ``attempt`` failed with ``error_type``: retry (and when), or give up.

    A receiver's ``Retry-After`` is honoured: the wait is at least that long, even past
    max_delay, but never past the deadline.
    """
    if error_type in NEVER_RETRIED:
        return RetryDecision(False, 0.0, "forbidden")
    if error_type in policy.non_retryable:
        return RetryDecision(False, 0.0, "non_retryable")
    if attempt >= policy.max_attempts:
        return RetryDecision(False, 0.0, "exhausted")
    delay = jittered_delay(policy, attempt, previous_delay, rand)
    if retry_after is not None:
        delay = max(delay, retry_after)
    if now + timedelta(seconds=delay) > created_at + timedelta(seconds=policy.deadline_seconds):
        return RetryDecision(False, 0.0, "deadline")
    return RetryDecision(True, delay, None)


def first_delay(policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """The wait before the first retry: the original call was the failure that brought us here."""
    return jittered_delay(policy, 1, None, rand)


#: SQS holds a message back at most 15 minutes; longer waits travel in hops.
MAX_SQS_DELAY = 900


def hop_delay(run_at: datetime, now: datetime) -> int:
    """Seconds to hold a message back so it arrives at ``run_at`` (0: run now), at most 900."""
    remaining = (run_at - now).total_seconds()
    if remaining < 1:
        return 0
    return int(min(MAX_SQS_DELAY, round(remaining)))
