"""Schedule definitions: create, read, change, pause and resume, delete, and their history.

The timing rules (next runs, catch-up, "would it ever run") live on the ``Schedule`` entity;
the minute tick is ``services/scheduler.py``, running a run is ``services/runs.py``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.headers import kept
from chalicelib.domain.ids import new_id
from chalicelib.domain.origins import SCHEDULE_SERVICE
from chalicelib.domain.schedule import (
    Execution,
    ExpressionError,
    Schedule,
    describe,
    next_runs,
    parse_expression,
)
from chalicelib.domain.timeutil import parse_iso, to_iso, utcnow
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.store.schedules import ExecutionStore, ScheduleStore

log = logging.getLogger("conductor.scheduler")


@contextmanager
def _expression_problems() -> Iterator[None]:
    """An expression croniter cannot place is the request's mistake, said on its field."""
    try:
        yield
    except ExpressionError as exc:
        raise ValidationFailed(str(exc), [{"field": "expression", "problem": str(exc)}]) from exc


class ScheduleService:
    def __init__(
        self,
        store: ScheduleStore,
        executions: ExecutionStore,
        runner: Callable[[], Any],
        publish: Callable[[str, dict[str, Any]], Any],
        history_days: int = 30,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._executions = executions
        self._runner = runner
        self._publish = publish
        self._history = timedelta(days=history_days)
        self._clock = clock

    def _settings(self, body: dict[str, Any], stored_target: dict[str, Any] | None = None) -> dict[str, Any]:
        """What a create or a replace sets, from a validated body."""
        self._runner().validate(body["target"])
        target = body["target"]
        if target.get("headers"):  # a masked value sent back keeps the stored one
            target = {
                **target,
                "headers": kept(target["headers"], (stored_target or {}).get("headers"), "target.headers"),
            }
        start, end = body.get("start_at"), body.get("end_at")
        if start and end and parse_iso(end) <= parse_iso(start):
            raise ValidationFailed(
                "The schedule ends before it starts.",
                [{"field": "end_at", "problem": "must be after start_at"}],
            )
        return {
            "name": body["name"],
            "description": body.get("description"),
            "expression": body["expression"],
            "timezone": body.get("timezone", "UTC"),
            "start_at": start,
            "end_at": end,
            "jitter_seconds": body.get("jitter_seconds", 0),
            "overlap_policy": body.get("overlap_policy", "skip"),
            "catchup": body.get("catchup", "latest"),
            "catchup_window_seconds": body.get("catchup_window_seconds", 3600),
            "enabled": bool(body.get("enabled", True)),
            "target": target,
            "retry_policy": body["retry_policy"],
            "tags": tuple(body.get("tags") or ()),
            "pause_after_failures": body.get("pause_after_failures"),
            "flexible_window_minutes": (body.get("flexible_time_window") or {}).get("maximum_window_minutes"),
            "action_after_completion": body.get("action_after_completion", "none"),
            "remaining_actions": body.get("remaining_actions"),
            "history_limits": body.get("history_limits"),
            "expression_words": _words(body["expression"]),
        }

    @staticmethod
    def _refuse_if_it_never_runs(schedule: Schedule, now: datetime) -> None:
        """A definition with no run ahead of it is a mistake: say why instead of storing it."""
        with _expression_problems():
            problem = schedule.never_runs(now)
        if problem is not None:
            raise ValidationFailed(
                "The schedule would never run.", [{"field": problem[0], "problem": problem[1]}]
            )

    def create(self, body: dict[str, Any]) -> Schedule:
        now = self._clock()
        created = to_iso(now)
        schedule = Schedule(
            id=new_id("sch"),
            version=1,
            anchor=body.get("start_at") or created,
            created_at=created,
            updated_at=created,
            **self._settings(body),
        )
        self._refuse_if_it_never_runs(schedule, now)
        with _expression_problems():
            schedule = schedule.placed(now)
        self._store.create(schedule)
        self._publish(
            "schedule.created",
            {"schedule_id": schedule.id, "name": schedule.name, "next_run_at": schedule.next_run_at},
        )
        return schedule

    def require(self, schedule_id: str, deleted_too: bool = False) -> Schedule:
        schedule = self._store.get_any(schedule_id) if schedule_id.startswith("sch_") else None
        if schedule is None or (schedule.deleted_at and not deleted_too):
            details = (
                []
                if schedule is None
                else [
                    {
                        "field": "schedule_id",
                        "problem": f"deleted at {schedule.deleted_at}; its "
                        f"history stays readable at /v2/schedules/{schedule_id}/history until it expires",
                    }
                ]
            )
            raise NotFound(
                f"No schedule {schedule_id}."
                if schedule is None
                else f"Schedule {schedule_id} was deleted at {schedule.deleted_at}.",
                details,
            )
        return schedule

    def names(self, schedule_ids: set[str]) -> dict[str, str]:
        """Id -> name, for views that list ids (a deleted one says so): one read per 100."""
        return {
            s.id: f"{s.name} (deleted)" if s.deleted_at else s.name
            for s in self._store.get_many(schedule_ids)
        }

    def service_names(self, services: set[str]) -> dict[str, str]:
        """Service -> its schedule's name, for the ``schedule:<id>`` services Conductor retries a
        schedule's runs under (others have no name to give): one read per 100."""
        ids = {s.removeprefix(SCHEDULE_SERVICE) for s in services if s.startswith(SCHEDULE_SERVICE)}
        return {f"{SCHEDULE_SERVICE}{i}": name for i, name in self.names(ids).items()} if ids else {}

    def list(
        self, enabled: bool | None, tag: str | None, limit: int, before: str | None
    ) -> tuple[list[Schedule], str | None]:
        return self._store.list(enabled, tag, limit, before)

    def update(self, schedule_id: str, body: dict[str, Any], expected_version: int | None) -> Schedule:
        now = self._clock()
        stored = self.require(schedule_id)
        expected = expected_version if expected_version is not None else stored.version
        schedule = dataclasses.replace(stored, **self._settings(body, stored.target))
        timing = ("expression", "timezone", "start_at", "end_at")
        if any(getattr(schedule, n) != getattr(stored, n) for n in timing):
            self._refuse_if_it_never_runs(schedule, now)  # a finished one stays editable
        schedule = dataclasses.replace(
            schedule,
            anchor=body.get("start_at") or stored.anchor,
            version=expected + 1,
            updated_at=to_iso(now),
            paused_note=None if schedule.enabled else stored.paused_note,
        )
        with _expression_problems():
            schedule = schedule.placed(now)
        self._store.replace(schedule, stored, expected)
        self._publish("schedule.updated", {"schedule_id": schedule_id, "version": expected + 1})
        return schedule

    def delete(self, schedule_id: str) -> None:
        now = self._clock()
        schedule = self.require(schedule_id)
        self._store.delete(schedule, to_iso(now), int((now + self._history).timestamp()))
        self._publish("schedule.deleted", {"schedule_id": schedule_id})

    def actions_used_up(self, schedule_id: str) -> None:
        """Its last allowed run started (``remaining_actions`` reached 0): paused, saying why."""
        try:
            self.set_enabled(
                schedule_id,
                False,
                "Paused: its limited actions are used up (remaining_actions reached 0).",
                reason="remaining_actions",
            )
        except (Conflict, NotFound):  # changed or deleted meanwhile: it has no next run anyway
            log.info("schedule %s not paused: it changed meanwhile", schedule_id)

    def set_enabled(
        self,
        schedule_id: str,
        enabled: bool,
        note: str | None,
        failures: int | None = None,
        reason: str | None = None,
    ) -> Schedule:
        """Pause or resume; ``failures`` says the scheduler paused it after that many failed
        runs in a row (the event's ``reason`` is then ``failures``, else ``manual``)."""
        now = self._clock()
        stored = self.require(schedule_id)
        schedule = dataclasses.replace(
            stored,
            enabled=enabled,
            paused_note=None if enabled else (note or ""),
            version=stored.version + 1,
            updated_at=to_iso(now),
            # resumed: it starts counting again
            failure_streak=0 if enabled else stored.failure_streak,
        )
        with _expression_problems():
            schedule = schedule.placed(now)
        self._store.replace(schedule, stored, stored.version)
        if enabled:
            self._publish("schedule.resumed", {"schedule_id": schedule_id, "note": note})
        else:
            data: dict[str, Any] = {
                "schedule_id": schedule_id,
                "note": note,
                "reason": reason or ("failures" if failures else "manual"),
            }
            if failures:
                data["failures"] = failures
            self._publish("schedule.paused", data)
        return schedule

    def pause_if_failing(self, schedule: Schedule, streak: int) -> None:
        """Temporal's pause-on-failure: after ``pause_after_failures`` runs in a row ended
        failed, stop running into a broken target until someone looks (and resumes)."""
        limit = schedule.pause_after_failures or 0
        if not limit or streak < limit or not schedule.enabled:
            return
        try:
            self.set_enabled(
                schedule.id,
                False,
                f"Paused after {streak} failed runs in a row (pause_after_failures={limit}).",
                failures=streak,
            )
        except (Conflict, NotFound):  # changed or deleted meanwhile: its next failure decides
            log.info("schedule %s not auto-paused: it changed meanwhile", schedule.id)

    def preview(self, body: dict[str, Any]) -> tuple[list[str], str | None]:
        """The next run times, and the expression in words."""
        now = self._clock()
        start = parse_iso(body["start_at"]) if body.get("start_at") else None
        end = parse_iso(body["end_at"]) if body.get("end_at") else None
        runs = next_runs(
            parse_expression(body["expression"]),
            body.get("timezone", "UTC"),
            now,
            body.get("count", 5),
            start or now,
            start,
            end,
        )
        return [to_iso(t) for t in runs], _words(body["expression"])

    def history(self, schedule_id: str, limit: int, before: str | None) -> tuple[list[Execution], str | None]:
        self.require(schedule_id, deleted_too=True)  # history outlives its schedule (TTL)
        return self._executions.history(schedule_id, limit, before, int(self._clock().timestamp()))


def _words(expression: str) -> str | None:
    """The expression in words, or None when it cannot be worded (it is still valid to run)."""
    try:
        return describe(expression)
    except Exception:  # noqa: BLE001 - wording is a courtesy: never refuse a schedule over it
        log.warning("could not word %r", expression, exc_info=True)
        return None
