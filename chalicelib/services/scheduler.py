"""The scheduler: definitions, the minute tick, the executor, history and manual runs.

A run's execution id is derived from its schedule and scheduled time, and its record is created
with a conditional write: however many ticks see a run (EventBridge delivers at least once, ticks
may overlap), it is claimed once, queued, and started once.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain.headers import kept, masked_target
from chalicelib.domain.ids import RANDOM_CHARS, TIME_CHARS, encode, new_id
from chalicelib.domain.messages import MalformedMessage, ScheduledRun
from chalicelib.domain.retry import NEVER_RETRIED
from chalicelib.domain.schedule import (
    ExpressionError,
    catch_up,
    jitter_offset,
    next_runs,
    parse_expression,
    runs_between,
)
from chalicelib.domain.timeutil import parse_iso, to_iso, utcnow
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.store.models import ExecutionRecord, ScheduleRecord
from chalicelib.store.queues import Queue
from chalicelib.store.schedules import SHARDS, ExecutionStore, ScheduleStore
from chalicelib.tracing import subsegment

log = logging.getLogger("conductor.scheduler")
ON_TIME = timedelta(seconds=120)  # a run this late is still "on time" for a minute tick
MAX_CATCHUP = 100  # runs one tick starts for ``catchup: all``
MAX_SCAN_RUNS = 10_000  # run times one tick looks at (a week of minutes)
MAX_BACKFILL = 100
MAX_BACKFILL_RANGE = timedelta(days=31)


def execution_id(schedule_id: str, scheduled_for: datetime) -> str:
    """``exe_`` + the run's time + bits from the schedule id: one id per run, on every tick."""
    digest = int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:10], "big")
    ms = int(scheduled_for.timestamp() * 1000)
    return f"exe_{encode(ms, TIME_CHARS)}{encode(digest, RANDOM_CHARS)}"


def shard_of(schedule_id: str) -> str:
    return str(int(hashlib.sha256(schedule_id.encode()).hexdigest(), 16) % SHARDS)


def _opt_iso(value: datetime | None) -> str | None:
    return to_iso(value) if value is not None else None


def execution_to_dict(record: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": record.id, "schedule_id": record.schedule_id, "scheduled_for": record.scheduled_for,
        "trigger": record.trigger, "status": record.status, "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration_ms": float(record.duration_ms) if record.duration_ms is not None else None,
        "status_code": int(record.status_code) if record.status_code is not None else None,
        "error": record.error, "retry_job_id": record.retry_job_id, "note": record.note,
        "created_at": record.created_at,
    }


class Scheduler:
    def __init__(
        self,
        schedules: ScheduleStore,
        executions: ExecutionStore,
        runner: Any,
        retries: Callable[[], Any],
        queue: Queue,
        publish: Callable[[str, dict[str, Any]], Any],
        history_days: int = 30,
        clock: Callable[[], datetime] = utcnow,
        metrics: Any = None,
    ) -> None:
        self._metrics = metrics
        self._schedules = schedules
        self._executions = executions
        self._runner = runner
        self._retries = retries
        self._queue = queue
        self._publish = publish
        self._history = timedelta(days=history_days)
        self._clock = clock

    # --- definitions ----------------------------------------------------------------------------

    def _upcoming(self, record: ScheduleRecord, after: datetime, count: int) -> list[datetime]:
        try:
            return next_runs(parse_expression(record.expression), record.timezone, after, count,
                             parse_iso(record.anchor),
                             parse_iso(record.start_at) if record.start_at else None,
                             parse_iso(record.end_at) if record.end_at else None)
        except ExpressionError as exc:
            raise ValidationFailed(str(exc), [{"field": "expression", "problem": str(exc)}]) from exc

    def _place(self, record: ScheduleRecord, now: datetime) -> None:
        """Set the next run and the due-index shard (none when disabled or finished)."""
        upcoming = self._upcoming(record, now, 1) if record.enabled == "true" else []
        if not upcoming and record.enabled == "true" and not int(record.runs or 0):
            late = self._late_once(record, now)  # a past at() the catch-up policy still runs
            upcoming = [late] if late else []
        record.next_run_at = to_iso(upcoming[0]) if upcoming else None
        record.due_shard = shard_of(record.id) if upcoming else None

    @staticmethod
    def _late_once(record: ScheduleRecord, now: datetime) -> datetime | None:
        """The time of an ``at()`` that has passed but lies within the catch-up window, when the
        catch-up policy runs missed runs: it is due at once (the next tick runs it as catch-up)."""
        expression = parse_expression(record.expression)
        if expression.kind != "at" or record.catchup == "skip":
            return None
        missed = runs_between(expression, record.timezone, now - timedelta(
            seconds=int(record.catchup_window_seconds)), now, parse_iso(record.anchor), 1,
            parse_iso(record.start_at) if record.start_at else None,
            parse_iso(record.end_at) if record.end_at else None)
        return missed[0] if missed else None

    def _refuse_if_it_never_runs(self, record: ScheduleRecord, now: datetime) -> None:
        """A definition with no run ahead of it is a mistake: say why instead of storing it."""
        if self._upcoming(record, now, 1) or self._late_once(record, now):
            return
        expression = parse_expression(record.expression)
        if record.end_at and parse_iso(record.end_at) <= now:
            raise ValidationFailed("The schedule would never run.", [
                {"field": "end_at", "problem": "is in the past: no run is left"}])
        problem = ("is in the past; to run it once now, set catchup to 'latest' or 'all' with a "
                   "catchup_window_seconds that reaches back to it" if expression.kind == "at"
                   else "has no run after now (its year field is over)")
        raise ValidationFailed("The schedule would never run.", [
            {"field": "expression", "problem": problem}])

    def to_dict(self, record: ScheduleRecord) -> dict[str, Any]:
        now = self._clock()
        return {
            "id": record.id, "name": record.name, "description": record.description,
            "expression": record.expression, "timezone": record.timezone,
            "start_at": record.start_at, "end_at": record.end_at,
            "jitter_seconds": int(record.jitter_seconds or 0),
            "overlap_policy": record.overlap_policy, "catchup": record.catchup,
            "catchup_window_seconds": int(record.catchup_window_seconds),
            "enabled": record.enabled == "true", "paused_note": record.paused_note,
            "target": masked_target(record.target), "retry_policy": record.retry_policy,
            "tags": list(record.tags or []), "version": int(record.version),
            "pause_after_failures": int(record.pause_after_failures)
            if record.pause_after_failures is not None else None,
            "next_runs": [to_iso(t) for t in self._upcoming(record, now, 5)]
            if record.enabled == "true" else [],
            "counters": {"runs": int(record.runs or 0), "failures": int(record.failures or 0),
                         "running": int(record.running or 0),
                         "last_run_at": record.last_run_at,
                         "last_success_at": record.last_success_at,
                         "last_failure_at": record.last_failure_at,
                         "consecutive_failures": int(record.failure_streak or 0)},
            "created_at": record.created_at, "updated_at": record.updated_at,
        }

    def _fields(self, body: dict[str, Any], stored_target: dict[str, Any] | None = None
                ) -> dict[str, Any]:
        self._runner.validate(body["target"])
        target = body["target"]
        if target.get("headers"):  # a masked value sent back keeps the stored one
            target = {**target, "headers": kept(target["headers"],
                                                (stored_target or {}).get("headers"),
                                                "target.headers")}
        start, end = body.get("start_at"), body.get("end_at")
        if start and end and parse_iso(end) <= parse_iso(start):
            raise ValidationFailed("The schedule ends before it starts.", [
                {"field": "end_at", "problem": "must be after start_at"}])
        return {
            "name": body["name"], "description": body.get("description"),
            "expression": body["expression"], "timezone": body.get("timezone", "UTC"),
            "start_at": start, "end_at": end, "jitter_seconds": body.get("jitter_seconds", 0),
            "overlap_policy": body.get("overlap_policy", "skip"),
            "catchup": body.get("catchup", "latest"),
            "catchup_window_seconds": body.get("catchup_window_seconds", 3600),
            "enabled": "true" if body.get("enabled", True) else "false",
            "target": target, "retry_policy": body["retry_policy"],
            "tags": list(body.get("tags") or []),
            "pause_after_failures": body.get("pause_after_failures"),
        }

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        schedule_id = new_id("sch")
        created = to_iso(now)
        record = self._schedules.new(id=schedule_id, version=1, anchor=body.get("start_at") or created,
                                     created_at=created, created_sk=f"{created}#{schedule_id}",
                                     updated_at=created, running=0, runs=0, failures=0,
                                     **self._fields(body))
        self._refuse_if_it_never_runs(record, now)
        self._place(record, now)
        self._schedules.create(record)
        self._publish("schedule.created", {"schedule_id": schedule_id, "name": record.name,
                                           "next_run_at": record.next_run_at})
        return self.to_dict(record)

    def require(self, schedule_id: str, deleted_too: bool = False) -> ScheduleRecord:
        record = self._schedules.get_any(schedule_id) if schedule_id.startswith("sch_") else None
        if record is None or (record.deleted_at and not deleted_too):
            details = [] if record is None else [{
                "field": "schedule_id", "problem": f"deleted at {record.deleted_at}; its history "
                f"stays readable at /v2/schedules/{schedule_id}/history until it expires"}]
            raise NotFound(f"No schedule {schedule_id}." if record is None else
                           f"Schedule {schedule_id} was deleted at {record.deleted_at}.", details)
        return record

    def get(self, schedule_id: str) -> dict[str, Any]:
        return self.to_dict(self.require(schedule_id))

    def list(self, enabled: bool | None, tag: str | None, limit: int,
             before: str | None) -> tuple[list[dict[str, Any]], str | None]:
        records, last = self._schedules.list(enabled, tag, limit, before)
        return [self.to_dict(r) for r in records], last

    def update(self, schedule_id: str, body: dict[str, Any], expected_version: int | None
               ) -> dict[str, Any]:
        now = self._clock()
        record = self.require(schedule_id)
        expected = expected_version if expected_version is not None else int(record.version)
        timing = ("expression", "timezone", "start_at", "end_at")
        before = [getattr(record, name) for name in timing]
        for name, value in self._fields(body, record.target).items():
            setattr(record, name, value)
        if [getattr(record, name) for name in timing] != before:  # a finished one stays editable
            self._refuse_if_it_never_runs(record, now)
        record.anchor = body.get("start_at") or record.anchor
        record.version = expected + 1
        record.updated_at = to_iso(now)
        record.paused_note = None if record.enabled == "true" else record.paused_note
        self._place(record, now)
        self._schedules.replace(record, expected)
        self._publish("schedule.updated", {"schedule_id": schedule_id, "version": expected + 1})
        return self.to_dict(record)

    def delete(self, schedule_id: str) -> None:
        now = self._clock()
        self.require(schedule_id)
        self._schedules.delete(schedule_id, to_iso(now), int((now + self._history).timestamp()))
        self._publish("schedule.deleted", {"schedule_id": schedule_id})

    def set_enabled(self, schedule_id: str, enabled: bool, note: str | None,
                    failures: int | None = None) -> dict[str, Any]:
        """Pause or resume; ``failures`` says the scheduler paused it after that many failed
        runs in a row (the event's ``reason`` is then ``failures``, else ``manual``)."""
        now = self._clock()
        record = self.require(schedule_id)
        expected = int(record.version)
        record.enabled = "true" if enabled else "false"
        record.paused_note = None if enabled else (note or "")
        record.version = expected + 1
        record.updated_at = to_iso(now)
        if enabled:
            record.failure_streak = 0  # resumed: it starts counting again
        self._place(record, now)
        self._schedules.replace(record, expected)
        if enabled:
            self._publish("schedule.resumed", {"schedule_id": schedule_id, "note": note})
        else:
            data: dict[str, Any] = {"schedule_id": schedule_id, "note": note,
                                    "reason": "failures" if failures else "manual"}
            if failures:
                data["failures"] = failures
            self._publish("schedule.paused", data)
        return self.to_dict(record)

    def _pause_if_failing(self, record: ScheduleRecord, streak: int) -> None:
        """Temporal's pause-on-failure: after ``pause_after_failures`` runs in a row ended
        failed, stop running into a broken target until someone looks (and resumes)."""
        limit = int(record.pause_after_failures or 0)
        if not limit or streak < limit or record.enabled != "true":
            return
        try:
            self.set_enabled(record.id, False, f"Paused after {streak} failed runs in a row "
                             f"(pause_after_failures={limit}).", failures=streak)
        except (Conflict, NotFound):  # changed or deleted meanwhile: its next failure decides
            log.info("schedule %s not auto-paused: it changed meanwhile", record.id)

    def preview(self, body: dict[str, Any]) -> list[str]:
        now = self._clock()
        start = parse_iso(body["start_at"]) if body.get("start_at") else None
        end = parse_iso(body["end_at"]) if body.get("end_at") else None
        runs = next_runs(parse_expression(body["expression"]), body.get("timezone", "UTC"), now,
                         body.get("count", 5), start or now, start, end)
        return [to_iso(t) for t in runs]

    # --- dispatching runs -------------------------------------------------------------------------

    def _dispatch(self, record: ScheduleRecord, scheduled_for: datetime, trigger: str,
                  now: datetime, manual: bool = False) -> ExecutionRecord:
        """Claim one run and queue it (again, if an earlier claim never got queued)."""
        exe_id = new_id("exe") if manual else execution_id(record.id, scheduled_for)
        sort_key = f"{to_iso(scheduled_for)}#{exe_id}"
        execution, new = self._executions.claim(
            schedule_id=record.id, sort_key=sort_key, id=exe_id,
            scheduled_for=to_iso(scheduled_for), trigger=trigger, status="pending",
            created_at=to_iso(now), expires_at=int((now + self._history).timestamp()))
        if new or execution.status == "pending":
            delay = jitter_offset(record.id, scheduled_for, int(record.jitter_seconds or 0))
            self._queue.send(ScheduledRun(record.id, sort_key), delay=0 if manual else delay)
        return execution

    def tick(self) -> dict[str, int]:
        """Fire every due run: one Query per shard, then per due schedule a claim, a message and
        an advance. Cost follows the due schedules, not the total."""
        now = self._clock()
        dispatched = skipped = 0
        for shard in range(SHARDS):
            for record in self._schedules.due(str(shard), to_iso(now)):
                with subsegment("schedule_tick", schedule_id=record.id):
                    ran, missed = self._due_runs(record, now)
                    for scheduled_for, trigger in ran:
                        self._dispatch(record, scheduled_for, trigger, now)
                        dispatched += 1
                    skipped += missed
                    upcoming = self._upcoming(record, now, 1)
                    self._schedules.advance(
                        record, record.next_run_at, _opt_iso(upcoming[0] if upcoming else None),
                        shard_of(record.id), to_iso(now))
        return {"dispatched": dispatched, "missed_skipped": skipped}

    def _due_runs(self, record: ScheduleRecord, now: datetime
                  ) -> tuple[list[tuple[datetime, str]], int]:
        """The runs this tick fires: on-time ones, and missed ones as the catch-up policy says."""
        first = parse_iso(record.next_run_at)
        window = timedelta(seconds=int(record.catchup_window_seconds))
        lower = max(first, now - window)  # runs older than the catch-up window are not looked at
        times = [first] if first >= lower else []
        times += runs_between(parse_expression(record.expression), record.timezone, lower, now,
                              parse_iso(record.anchor), MAX_SCAN_RUNS,
                              parse_iso(record.start_at) if record.start_at else None,
                              parse_iso(record.end_at) if record.end_at else None)
        on_time = [t for t in times if now - t < ON_TIME]
        missed = [t for t in times if now - t >= ON_TIME]
        chosen = catch_up(missed, record.catchup)[-MAX_CATCHUP:]
        runs = [(t, "catchup") for t in chosen] + [(t, "scheduled") for t in on_time]
        return runs, len(times) - len(runs)

    def upcoming(self, limit: int) -> list[dict[str, Any]]:
        """The soonest next runs across schedules: one Query per shard of the due index."""
        now = to_iso(self._clock())
        records = [r for shard in range(SHARDS)
                   for r in self._schedules.upcoming(str(shard), now, limit)]
        records.sort(key=lambda r: r.next_run_at or "")
        return [{"schedule_id": r.id, "name": r.name, "next_run_at": r.next_run_at}
                for r in records[:limit]]

    def execute_now(self, schedule_id: str) -> dict[str, Any]:
        now = self._clock()
        record = self.require(schedule_id)
        return execution_to_dict(self._dispatch(record, now, "manual", now, manual=True))

    def backfill(self, schedule_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        now = self._clock()
        if not start < end <= now:
            raise ValidationFailed("Backfill needs a past range.", [
                {"field": "from", "problem": "must be before 'to', and 'to' not in the future"}])
        if end - start > MAX_BACKFILL_RANGE:
            raise ValidationFailed("Backfill range too long.", [
                {"field": "from", "problem": f"at most {MAX_BACKFILL_RANGE.days} days"}])
        record = self.require(schedule_id)
        times = runs_between(parse_expression(record.expression), record.timezone,
                             start - timedelta(microseconds=1), end, parse_iso(record.anchor),
                             MAX_BACKFILL + 1,  # one more than allowed: to tell "too many"
                             parse_iso(record.start_at) if record.start_at else None,
                             parse_iso(record.end_at) if record.end_at else None)
        if len(times) > MAX_BACKFILL:
            raise ValidationFailed("Backfill would start too many runs.", [
                {"field": "to", "problem": f"at most {MAX_BACKFILL} runs per request"}])
        return [execution_to_dict(self._dispatch(record, t, "backfill", now)) for t in times]

    def history(self, schedule_id: str, limit: int, before: str | None
                ) -> tuple[list[dict[str, Any]], str | None]:
        self.require(schedule_id, deleted_too=True)  # history outlives its schedule (TTL)
        records, last = self._executions.history(schedule_id, limit, before,
                                                 int(self._clock().timestamp()))
        return [execution_to_dict(r) for r in records], last

    # --- the executor -----------------------------------------------------------------------------

    def run_execution(self, body: str) -> str:
        """Run one queued execution; returns what happened. Safe to deliver twice."""
        try:
            message = messages.decode(ScheduledRun, body)
        except MalformedMessage:
            log.error("dropping a malformed executions message: %.200s", body)
            return "malformed"
        schedule_id, sort_key = message.schedule_id, message.sort_key
        execution = self._executions.get(schedule_id, sort_key)
        if execution is None or execution.status != "pending":
            return "duplicate"
        now = self._clock()
        record = self._schedules.get(schedule_id)
        if record is None:
            self._executions.transition(execution, "pending", "skipped", note="schedule deleted",
                                        finished_at=to_iso(now))
            return "deleted"
        exclusive = record.overlap_policy != "allow"
        if not self._schedules.take_slot(schedule_id, exclusive):
            if record.overlap_policy == "buffer_one" and self._schedules.buffer(
                    schedule_id, messages.encode(message)):
                return "buffered"
            self._executions.transition(execution, "pending", "skipped", finished_at=to_iso(now),
                                        note="a previous run was still running")
            self._count(schedule_id, {"skipped": 1}, None)
            self._publish("schedule.skipped", {"schedule_id": schedule_id,
                                               "execution_id": execution.id,
                                               "scheduled_for": execution.scheduled_for})
            return "skipped"
        if not self._executions.transition(execution, "pending", "running",
                                           started_at=to_iso(now)):
            self._release(schedule_id, None)
            return "duplicate"
        with subsegment("schedule_run", schedule_id=schedule_id, execution_id=execution.id):
            outcome = self._runner.run(record.target)
        return self._record(record, execution, outcome)

    def _record(self, record: ScheduleRecord, execution: ExecutionRecord, outcome: Any) -> str:
        now = self._clock()
        fields = {"finished_at": to_iso(now), "duration_ms": outcome.duration_ms,
                  "status_code": outcome.status_code}
        data = {"schedule_id": record.id, "execution_id": execution.id,
                "scheduled_for": execution.scheduled_for, "trigger": execution.trigger,
                "status_code": outcome.status_code, "duration_ms": outcome.duration_ms}
        self._count(record.id, {"runs": 1, "failures": int(not outcome.success)},
                    outcome.duration_ms)
        if outcome.success:
            self._executions.transition(execution, "running", "succeeded", **fields)
            self._release(record.id, True, settled=True)
            self._publish("schedule.executed", data)
            return "succeeded"
        error = {"type": outcome.error_type or "Error", "message": outcome.error_message or ""}
        status, job_id = "failed", None
        attempts = int((record.retry_policy or {}).get("max_attempts", 1))
        if attempts > 1 and error["type"] not in NEVER_RETRIED:
            # max_attempts counts every attempt, this run's included (as Temporal's does): the
            # retry engine makes the rest
            job, _ = self._retries().create({
                "service": f"schedule:{record.id}", "target": record.target, "error": error,
                "retry_policy": {**record.retry_policy, "max_attempts": attempts - 1},
                "idempotency_key": f"execution:{execution.id}",
                "workflow_id": record.id, "execution_id": execution.id},
                origin={"type": "schedule_run", "schedule_id": record.id,
                        "execution_id": execution.id})
            status, job_id = "retrying", job.id
        self._executions.transition(execution, "running", status, error=error,
                                    retry_job_id=job_id, **fields)
        streak = self._release(record.id, False, settled=False if job_id is None else None)
        self._publish("schedule.failed", {**data, "error": error, "retry_job_id": job_id})
        if job_id is None:
            self._pause_if_failing(record, streak)
        return status

    def _count(self, schedule_id: str, fields: dict[str, float], ms: float | None) -> None:
        if self._metrics is not None:
            self._metrics.count("schedules", schedule_id, fields, ("duration", ms))

    def _release(self, schedule_id: str, succeeded: bool | None,
                 settled: bool | None = None) -> int:
        """Free the overlap slot; a run buffered meanwhile is queued now. Answers the failure
        streak (see ``finish_run``)."""
        buffered, streak = self._schedules.finish_run(schedule_id, succeeded,
                                                      to_iso(self._clock()), held_slot=True,
                                                      settled=settled)
        if buffered:
            try:
                self._queue.send(messages.decode(ScheduledRun, buffered))
            except MalformedMessage:
                log.error("dropping a malformed buffered run of %s", schedule_id)
        return streak

    def retry_finished(self, execution_id_: str, succeeded: bool) -> None:
        """A retry job of a failed run finished: the run's history says how it ended, and the
        schedule's failure streak moves (which may pause it)."""
        execution = self._executions.find(execution_id_)
        if execution is None:
            return
        if not self._executions.transition(execution, "retrying",
                                           "succeeded" if succeeded else "failed"):
            return  # settled before (the job's end is delivered at least once)
        record = self._schedules.settle(execution.schedule_id, succeeded)
        if record is not None and not succeeded:  # a deleted one's tombstone is not enabled
            self._pause_if_failing(record, int(record.failure_streak or 0))

