from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.breaker import (
    CLOSED,
    FORCED_OPEN,
    HALF_OPEN,
    OPEN,
    BreakerSettings,
    BreakerState,
    admit,
    command,
    record,
)

S = BreakerSettings(
    failure_rate_threshold=0.5, window_size=10, minimum_calls=4, open_seconds=30, half_open_trials=2
)


def run(state: BreakerState, outcomes: str, now: float = 0) -> tuple[BreakerState, list[str]]:
    transitions = []
    for outcome in outcomes:
        state, transition = record(state, S, now, outcome == "1")
        if transition:
            transitions.append(transition)
    return state, transitions


def test_opens_only_after_minimum_calls_at_the_threshold() -> None:
    state, transitions = run(BreakerState(), "111")
    assert state.state == CLOSED and transitions == []  # 3 < minimum_calls
    state, transitions = run(state, "0")
    assert state.state == OPEN and transitions == [OPEN]  # 3/4 >= 0.5


def test_stays_closed_below_the_threshold() -> None:
    state, _ = run(BreakerState(), "0001000100")
    assert state.state == CLOSED and state.failure_rate() == 0.2


def test_window_slides() -> None:
    state, _ = run(BreakerState(), "1" + "0" * 10)
    assert state.window == "0" * 10


def test_open_refuses_until_the_wait_then_half_open_allows_bounded_trials() -> None:
    state, _ = run(BreakerState(), "1111", now=100)
    refused = admit(state, S, 129)
    assert not refused.allowed and refused.retry_at == 130
    first = admit(state, S, 130)
    assert first.allowed and first.transition == HALF_OPEN and first.state.state == HALF_OPEN
    second = admit(first.state, S, 130)
    assert second.allowed and second.transition is None
    third = admit(second.state, S, 130)
    assert not third.allowed  # only two trials at once


def test_half_open_closes_after_all_trials_succeed_or_reopens_on_a_failure() -> None:
    half = BreakerState(HALF_OPEN, "", 0, 2, 0)
    closed, transitions = run(half, "00", now=50)
    assert closed.state == CLOSED and transitions == [CLOSED] and closed.window == ""
    reopened, transitions = run(half, "01", now=50)
    assert reopened.state == OPEN and reopened.opened_at == 50 and transitions == [OPEN]


def test_operator_commands() -> None:
    forced, transition = command(BreakerState(), "force_open", 10)
    assert forced.state == FORCED_OPEN and transition == OPEN
    assert not admit(forced, S, 10_000).allowed  # held open until reset
    assert record(forced, S, 11, False)[0] == forced
    closed, _ = command(forced, "reset", 12)
    assert closed.state == CLOSED and admit(closed, S, 12).allowed
    always, _ = command(BreakerState(), "force_close", 0)
    assert run(always, "1" * 20)[0].state == "forced_closed"
    with pytest.raises(ValueError):
        command(BreakerState(), "explode", 0)


@given(
    outcomes=st.lists(st.booleans(), max_size=200),
    gaps=st.lists(st.floats(0, 100), min_size=200, max_size=200),
)
def test_invariants_hold_for_any_sequence(outcomes: list[bool], gaps: list[float]) -> None:
    state, now = BreakerState(), 0.0
    for failed, gap in zip(outcomes, gaps, strict=False):
        now += gap
        admission = admit(state, S, now)
        state = admission.state
        if admission.allowed:
            state, _ = record(state, S, now, failed)
        assert len(state.window) <= S.window_size
        assert state.state in (CLOSED, OPEN, HALF_OPEN)
        assert state.trials_started <= S.half_open_trials
        if state.state == OPEN:
            assert state.opened_at is not None
