from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.retry import (
    JITTERS,
    STRATEGIES,
    RetryPolicy,
    base_delay,
    decide,
    hop_delay,
    jittered_delay,
)

T0 = datetime(2026, 11, 29, tzinfo=UTC)

policies = st.builds(
    RetryPolicy,
    strategy=st.sampled_from(STRATEGIES),
    max_attempts=st.integers(1, 30),
    initial_delay_seconds=st.floats(0, 60),
    max_delay_seconds=st.floats(0, 3600),
    multiplier=st.floats(1, 10),
    increment_seconds=st.one_of(st.none(), st.floats(0, 600)),
    jitter=st.sampled_from(JITTERS),
    deadline_seconds=st.integers(1, 10 * 86_400),
)


def test_strategies_without_jitter() -> None:
    exp = RetryPolicy("exponential", 10, 1, 30, 2.0, None, "none")
    assert [base_delay(exp, n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    lin = RetryPolicy("linear", 10, 5, 30, 2.0, 10, "none")
    assert [base_delay(lin, n) for n in range(1, 5)] == [5, 15, 25, 30]
    fixed = RetryPolicy("fixed", 10, 7, 30, 2.0, None, "none")
    assert {base_delay(fixed, n) for n in range(1, 10)} == {7}


@given(policy=policies, seed=st.integers(0, 2**32))
def test_delays_never_exceed_max_and_attempts_never_exceed_max(policy: RetryPolicy, seed: int) -> None:
    rand = random.Random(seed).random
    previous, attempt, now = None, 1, T0
    for _ in range(100):  # bounded
        decision = decide(policy, attempt, "Boom", T0, now, rand, previous)
        if not decision.retry:
            break
        assert 0 <= decision.delay_seconds <= policy.max_delay_seconds
        previous, attempt = decision.delay_seconds, attempt + 1
        now += timedelta(seconds=decision.delay_seconds)
    assert attempt <= policy.max_attempts


@given(policy=policies, seed=st.integers(0, 2**32))
def test_deterministic_for_a_seed(policy: RetryPolicy, seed: int) -> None:
    def run() -> list[float]:
        rand = random.Random(seed).random
        return [jittered_delay(policy, n, None, rand) for n in range(1, 6)]

    assert run() == run()


def test_non_retryable_and_deadline() -> None:
    policy = RetryPolicy(
        non_retryable=("ValidationError",), deadline_seconds=60, jitter="none", initial_delay_seconds=10
    )
    assert decide(policy, 1, "ValidationError", T0, T0, random.random).reason == "non_retryable"
    assert decide(policy, 1, "Timeout", T0, T0, random.random).retry
    late = T0 + timedelta(seconds=55)
    assert decide(policy, 1, "Timeout", T0, late, random.random).reason == "deadline"
    assert decide(policy, 5, "Timeout", T0, T0, random.random).reason == "exhausted"


def test_retry_after_is_honoured_even_past_max_delay() -> None:
    policy = RetryPolicy(jitter="none", initial_delay_seconds=1, max_delay_seconds=5)
    decision = decide(policy, 1, "HTTP429", T0, T0, random.random, retry_after=120)
    assert decision.retry and decision.delay_seconds == 120


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0, 0), (0.4, 0), (30, 30), (900, 900), (3600, 900), (-5, 0)]
)
def test_long_waits_travel_in_hops(seconds: float, expected: int) -> None:
    assert hop_delay(T0 + timedelta(seconds=seconds), T0) == expected


def test_jitter_shapes() -> None:
    policy = RetryPolicy(jitter="full", initial_delay_seconds=8, max_delay_seconds=100)
    assert jittered_delay(policy, 1, None, lambda: 0.5) == 4
    equal = RetryPolicy(jitter="equal", initial_delay_seconds=8, max_delay_seconds=100)
    assert jittered_delay(equal, 1, None, lambda: 0.0) == 4
    decorrelated = RetryPolicy(jitter="decorrelated", initial_delay_seconds=2, max_delay_seconds=100)
    assert jittered_delay(decorrelated, 3, 10, lambda: 1.0) == 30
