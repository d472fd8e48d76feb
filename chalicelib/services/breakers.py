"""Circuit breakers shared by every Lambda: pure transitions, optimistic writes, events."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from chalicelib.domain import breaker as sm
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import Conflict
from chalicelib.store.breakers import BreakerStore

MAX_ATTEMPTS = 16
EVENT_BY_TRANSITION = {
    sm.OPEN: "circuit.opened",
    sm.HALF_OPEN: "circuit.half_opened",
    sm.CLOSED: "circuit.closed",
}


def parse_settings(raw: Mapping[str, Any] | None) -> dict[str, sm.BreakerSettings]:
    """``{"default": {...}, "payments": {...}}`` -> settings per service (with "default")."""
    raw = dict(raw or {})
    default = sm.BreakerSettings(**raw.pop("default", {}))
    settings = {"default": default}
    for service, values in raw.items():
        settings[service] = sm.BreakerSettings(**{**asdict(default), **values})
    return settings


class BreakerService:
    """``admit`` before a call to a service, ``record`` after it. Each is a read plus, when the
    state changes, one conditional write; a lost race re-reads and re-applies the transition, so
    concurrent updates never lose one."""

    def __init__(
        self,
        store: BreakerStore,
        settings: Mapping[str, sm.BreakerSettings],
        publish: Callable[[str, dict[str, Any]], Any],
        clock: Callable[[], datetime] = utcnow,
        metrics: Any = None,
        on_closed: Callable[[str], Any] | None = None,
        pause: Callable[[float], Any] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._metrics = metrics
        #: called with the service when an operator closes its breaker (held attempts go now)
        self._on_closed = on_closed
        self._pause = pause
        self._rand = rand
        self._store = store
        self._settings = dict(settings)
        self._publish = publish
        self._clock = clock

    def settings_for(self, service: str) -> sm.BreakerSettings:
        return self._settings.get(service, self._settings["default"])

    def _update(
        self,
        service: str,
        change: Callable[[sm.BreakerState, float], tuple[sm.BreakerState, Any, str | None]],
        known: sm.BreakerState | None = None,
    ) -> tuple[sm.BreakerState, Any]:
        """Apply ``change`` with a write conditioned on the version it saw; ``known``: a state
        the caller just read or wrote, tried first without reading (a lost race reads again)."""
        for tries in range(MAX_ATTEMPTS):
            if tries:  # a lost race: wait a little (random, growing) before reading again
                self._pause(self._rand() * min(0.2, 0.005 * 2**tries))
            now = self._clock()
            current = known if known is not None and not tries else self._store.get(service)
            new, result, transition = change(current, now.timestamp())
            if new == current:
                return current, result
            if self._store.replace(service, new, current.version, to_iso(now)):
                new = dataclasses.replace(new, version=current.version + 1)  # as stored
                if transition is not None and self._metrics is not None:
                    self._metrics.count("breakers", service, {transition: 1})
                if transition is not None:  # the window that led here (a new state's is empty)
                    self._publish(
                        EVENT_BY_TRANSITION[transition],
                        {
                            "service": service,
                            "state": new.state,
                            "window": {
                                "size": len(current.window),
                                "failures": current.failures,
                                "failure_rate": round(current.failure_rate(), 4),
                            },
                            "failure_rate": round(current.failure_rate(), 4),
                        },
                    )
                return new, result
        raise Conflict(f"The breaker of {service} is changing too fast; try again.")

    def admit(self, service: str) -> sm.Admission:
        settings = self.settings_for(service)

        def change(state: sm.BreakerState, now: float) -> tuple[sm.BreakerState, Any, str | None]:
            admission = sm.admit(state, settings, now)
            return admission.state, admission, admission.transition

        state, admission = self._update(service, change)
        return dataclasses.replace(admission, state=state)  # the state as stored, its version too

    def record(self, service: str, failed: bool, known: sm.BreakerState | None = None) -> sm.BreakerState:
        """An outcome into the window; ``known``: the state ``admit`` answered (one read less)."""
        settings = self.settings_for(service)

        def change(state: sm.BreakerState, now: float) -> tuple[sm.BreakerState, Any, str | None]:
            new, transition = sm.record(state, settings, now, failed)
            return new, None, transition

        return self._update(service, change, known)[0]

    def command(self, service: str, action: str) -> dict[str, Any]:
        def change(state: sm.BreakerState, now: float) -> tuple[sm.BreakerState, Any, str | None]:
            new, transition = sm.command(state, action, now)
            return new, None, transition

        state, _ = self._update(service, change)
        if state.state in (sm.CLOSED, sm.FORCED_CLOSED) and self._on_closed is not None:
            self._on_closed(service)
        return self.describe(service)

    def describe(
        self, service: str, state: sm.BreakerState | None = None, updated_at: str | None = None
    ) -> dict[str, Any]:
        if state is None:
            state, updated_at = self._store.get_with_time(service)
        settings = self.settings_for(service)
        trial_at = sm.next_trial_at(state, settings)
        return {
            "service": service,
            "state": state.state,
            "window": {
                "size": len(state.window),
                "failures": state.failures,
                "failure_rate": round(state.failure_rate(), 4),
            },
            "opened_at": to_iso(datetime.fromtimestamp(state.opened_at, self._clock().tzinfo))
            if state.opened_at is not None
            else None,
            "next_trial_at": to_iso(datetime.fromtimestamp(trial_at, self._clock().tzinfo))
            if trial_at is not None
            else None,
            "trials_started": state.trials_started,
            "settings": json.loads(json.dumps(asdict(settings))),
            "updated_at": updated_at,
        }

    def list(self, limit: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        rows, last = self._store.list(limit, after)
        return [self.describe(service, state, updated) for service, state, updated in rows], last
