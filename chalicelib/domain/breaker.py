"""The circuit breaker state machine (resilience4j's count-based sliding window), pure.

CLOSED: calls pass; outcomes fill a window of the last ``window_size`` calls. Once it holds at
least ``minimum_calls`` and the failure rate reaches ``failure_rate_threshold`` -> OPEN.
OPEN: calls are refused until ``open_seconds`` have passed -> HALF_OPEN.
HALF_OPEN: up to ``half_open_trials`` calls pass; any failure -> OPEN again, all of them
succeeding -> CLOSED with an empty window.
An operator may force it OPEN or CLOSED (held until reset).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
FORCED_OPEN, FORCED_CLOSED = "forced_open", "forced_closed"
#: A downstream service's name, the key of its breaker (``payments``, ``schedule:sch_...``).
SERVICE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


@dataclass(frozen=True)
class BreakerSettings:
    failure_rate_threshold: float = 0.5
    window_size: int = 20
    minimum_calls: int = 10
    open_seconds: float = 30.0
    half_open_trials: int = 3


@dataclass(frozen=True)
class BreakerState:
    state: str = CLOSED
    #: outcomes of the last calls, oldest first: "1" failure, "0" success
    window: str = ""
    opened_at: float | None = None
    trials_started: int = 0
    trial_successes: int = 0
    #: optimistic-concurrency version; the store increments it on every write
    version: int = 0

    @property
    def failures(self) -> int:
        return self.window.count("1")

    def failure_rate(self) -> float:
        return self.failures / len(self.window) if self.window else 0.0


@dataclass(frozen=True)
class Admission:
    allowed: bool
    state: BreakerState
    #: when a refused call may try again (epoch seconds)
    retry_at: float | None
    transition: str | None = None


def _open(state: BreakerState, now: float) -> BreakerState:
    return replace(state, state=OPEN, window="", opened_at=now, trials_started=0, trial_successes=0)


def next_trial_at(state: BreakerState, settings: BreakerSettings) -> float | None:
    if state.state == OPEN and state.opened_at is not None:
        return state.opened_at + settings.open_seconds
    return None


def admit(state: BreakerState, settings: BreakerSettings, now: float) -> Admission:
    """May a call go through now? Moves OPEN -> HALF_OPEN when the wait is over."""
    if state.state in (CLOSED, FORCED_CLOSED):
        return Admission(True, state, None)
    if state.state == FORCED_OPEN:
        return Admission(False, state, now + settings.open_seconds)
    if state.state == OPEN:
        trial_at = next_trial_at(state, settings) or now
        if now < trial_at:
            return Admission(False, state, trial_at)
        half = replace(state, state=HALF_OPEN, trials_started=1, trial_successes=0)
        return Admission(True, half, None, transition=HALF_OPEN)
    if state.trials_started < settings.half_open_trials:  # HALF_OPEN
        return Admission(True, replace(state, trials_started=state.trials_started + 1), None)
    # every trial slot is taken: wait a short while for their outcomes
    return Admission(False, state, now + max(1.0, settings.open_seconds / 10))


def record(
    state: BreakerState, settings: BreakerSettings, now: float, failed: bool
) -> tuple[BreakerState, str | None]:
    """Account for one call's outcome; return the new state and the transition, if any."""
    if state.state == CLOSED:
        window = (state.window + ("1" if failed else "0"))[-settings.window_size :]
        new = replace(state, window=window)
        if len(window) >= settings.minimum_calls and (new.failure_rate() >= settings.failure_rate_threshold):
            return _open(new, now), OPEN
        return new, None
    if state.state == HALF_OPEN:
        if failed:
            return _open(state, now), OPEN
        successes = state.trial_successes + 1
        if successes >= settings.half_open_trials:
            return BreakerState(CLOSED, "", None, 0, 0, state.version), CLOSED
        return replace(state, trial_successes=successes), None
    return state, None  # OPEN or forced: a late outcome changes nothing


def command(state: BreakerState, action: str, now: float) -> tuple[BreakerState, str | None]:
    """An operator's ``reset`` | ``force_open`` | ``force_close``; returns the transition."""
    if action == "reset":
        return BreakerState(CLOSED, "", None, 0, 0, state.version), CLOSED
    if action == "force_open":  # again on a forced-open breaker: nothing changes (idempotent)
        if state.state == FORCED_OPEN:
            return state, None
        return replace(state, state=FORCED_OPEN, opened_at=now, window=""), OPEN
    if action == "force_close":
        if state.state == FORCED_CLOSED:
            return state, None
        return replace(state, state=FORCED_CLOSED, opened_at=None, window=""), CLOSED
    raise ValueError(f"unknown breaker action {action!r}")
