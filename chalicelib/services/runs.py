"""Running a schedule's run: the executions queue's messages through the attempt engine.

A run is one attempt: claimed (pending → running) under the schedule's overlap policy, run
against its target, recorded; a failed run with retries left hands over to a retry job, whose
end comes back through ``reactions.py`` (``retry_finished``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain.messages import MalformedMessage, ScheduledRun
from chalicelib.domain.origins import SCHEDULE_SERVICE
from chalicelib.domain.retry import NEVER_RETRIED
from chalicelib.domain.schedule import Execution, Schedule
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import NotFound
from chalicelib.services.attempts import AttemptEngine, Work
from chalicelib.services.schedules import ScheduleService
from chalicelib.store.schedules import RUN_ENDS, ExecutionStore, ScheduleStore
from chalicelib.tracing import subsegment

log = logging.getLogger("conductor.scheduler")
#: how long a started run is held before a crashed worker's run is taken over (longer than the
#: executions Lambda's timeout)
LEASE_SECONDS = 120


def _abandoned(execution: Execution, now: datetime) -> bool:
    """A run that started and whose lease ran out: its worker crashed; it may be taken over."""
    return (
        execution.status == "running"
        and execution.lease_until is not None
        and execution.lease_until < now.timestamp()
    )


@dataclass
class _Run:
    execution: Execution
    schedule: Schedule | None = None


class RunWork(Work[ScheduledRun, _Run]):
    """The executor: what running a schedule's run is, for the attempt engine."""

    message = ScheduledRun
    name = "executions"

    def __init__(self, owner: RunExecutor) -> None:
        self._o = owner

    def load(self, message: ScheduledRun) -> _Run | None:
        execution = self._o.executions.get(message.schedule_id, message.sort_key)
        return _Run(execution) if execution is not None else None

    def done(self, item: _Run, message: ScheduledRun, now: datetime) -> bool:
        return item.execution.status != "pending" and not _abandoned(item.execution, now)

    def holds(self, item: _Run, message: ScheduledRun, token: str) -> bool:
        return item.execution.status == "running" and item.execution.claim_token == token

    def before_claim(self, item: _Run, message: ScheduledRun, now: datetime) -> str | None:
        o, execution = self._o, item.execution
        schedule = item.schedule = o.store.get(message.schedule_id)
        if schedule is not None and execution.status == "running":
            return None  # taken over after a crash: the crashed run's slot is still held
        if schedule is None:
            o.executions.transition(
                execution, "pending", "skipped", note="schedule deleted", finished_at=to_iso(now)
            )
            return "deleted"
        policy = execution.overlap_policy or schedule.overlap_policy  # a backfill's own first
        if o.store.take_slot(schedule.id, execution.id, policy != "allow"):
            return None
        # waiting runs are kept without their start time (past by then): one form, compared whole
        encoded = messages.encode(ScheduledRun(message.schedule_id, message.sort_key))
        if policy == "buffer_one" and (
            schedule.buffered == encoded  # waiting already (a repair)
            or o.store.buffer(schedule.id, encoded)
        ):
            return "buffered"
        if policy == "buffer_all" and (
            encoded in schedule.buffered_all or o.store.buffer_more(schedule.id, encoded)
        ):
            return "buffered"
        o.executions.transition(
            execution, "pending", "skipped", finished_at=to_iso(now), note="a previous run was still running"
        )
        o.count(schedule, {"skipped": 1}, None)
        o.publish(
            "schedule.skipped",
            {
                "schedule_id": schedule.id,
                "execution_id": execution.id,
                "scheduled_for": execution.scheduled_for,
            },
        )
        return "skipped"

    def claim(self, item: _Run, message: ScheduledRun, now: datetime, token: str) -> bool:
        started = self._o.executions.start(
            item.execution, token, int(now.timestamp()), LEASE_SECONDS, to_iso(now)
        )
        if started is not None:
            item.execution = started
            self._o.lateness(started)
            return True
        current = self._o.executions.get(message.schedule_id, message.sort_key)
        if current is not None and current.status == "running" and current.claim_token == token:
            item.execution = current  # ours: the claim's answer was lost (the schedule kept)
            return True
        if current is not None and current.status in RUN_ENDS:
            # it ended between our read and our slot: the slot we took again is nobody's
            self._o.store.free_slot(message.schedule_id, current.id)
        return False

    def run(self, item: _Run, message: ScheduledRun, now: datetime) -> str:
        schedule, execution = item.schedule, item.execution
        assert schedule is not None
        with subsegment("schedule_run", schedule_id=schedule.id, execution_id=execution.id):
            outcome = self._o.runner.run(schedule.target)
        return self._o.record(schedule, execution, outcome)


class RunExecutor:
    def __init__(
        self,
        schedules: ScheduleService,
        store: ScheduleStore,
        executions: ExecutionStore,
        runner: Any,
        retries: Callable[[], Any],
        engine: AttemptEngine,
        publish: Callable[[str, dict[str, Any]], Any],
        clock: Callable[[], datetime] = utcnow,
        metrics: Any = None,
    ) -> None:
        self._schedules = schedules
        self.store = store
        self.executions = executions
        self.runner = runner
        self._retries = retries
        self.engine = engine
        self.publish = publish
        self._clock = clock
        self._metrics = metrics
        self._work = RunWork(self)

    def run_execution(self, body: str) -> str:
        """Run one queued execution; returns what happened. Safe to deliver twice."""
        return self.engine.handle(self._work, body)

    def record(self, schedule: Schedule, execution: Execution, outcome: Any) -> str:
        now = self._clock()
        fields = {
            "finished_at": to_iso(now),
            "duration_ms": outcome.duration_ms,
            "status_code": outcome.status_code,
        }
        data = {
            "schedule_id": schedule.id,
            "execution_id": execution.id,
            "scheduled_for": execution.scheduled_for,
            "trigger": execution.trigger,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
        }
        self.count(schedule, {"runs": 1, "failures": int(not outcome.success)}, outcome.duration_ms)
        if outcome.success:
            self.executions.transition(execution, "running", "succeeded", **fields)
            self.release(schedule.id, execution.id, True, settled=True)
            self.publish("schedule.executed", data)
            self._after_run(schedule)
            return "succeeded"
        error = {"type": outcome.error_type or "Error", "message": outcome.error_message or ""}
        status, job_id = "failed", None
        attempts = int((schedule.retry_policy or {}).get("max_attempts", 1))
        if attempts > 1 and error["type"] not in NEVER_RETRIED:
            # max_attempts counts every attempt, this run's included (as Temporal's does): the
            # retry engine makes the rest
            job, _ = self._retries().create(
                {
                    "service": SCHEDULE_SERVICE + schedule.id,
                    "target": schedule.target,
                    "error": error,
                    "retry_policy": {**schedule.retry_policy, "max_attempts": attempts - 1},
                    "idempotency_key": f"execution:{execution.id}",
                    "workflow_id": schedule.id,
                    "execution_id": execution.id,
                },
                origin={"type": "schedule_run", "schedule_id": schedule.id, "execution_id": execution.id},
            )
            status, job_id = "retrying", job.id
        self.executions.transition(execution, "running", status, error=error, retry_job_id=job_id, **fields)
        streak = self.release(schedule.id, execution.id, False, settled=False if job_id is None else None)
        self.publish("schedule.failed", {**data, "error": error, "retry_job_id": job_id})
        if job_id is None:
            self._schedules.pause_if_failing(schedule, streak)
        self._after_run(schedule)
        return status

    def _after_run(self, schedule: Schedule) -> None:
        """A run ended: the history kept to its limits (the newest N successes and M failures,
        Kubernetes' history limits: one Query and one BatchWriteItem at most), and a schedule
        whose last run this was deleted when it asks to be (EventBridge's
        ActionAfterCompletion)."""
        if schedule.history_limits:
            self.executions.trim(schedule.id, schedule.history_limits, int(self._clock().timestamp()))
        if schedule.action_after_completion != "delete":
            return
        current = self.store.get(schedule.id)
        if current is not None and current.next_run_at is None and not current.running_ids:
            with contextlib.suppress(NotFound):  # deleted meanwhile (its end delivered twice)
                self._schedules.delete(schedule.id)

    def lateness(self, execution: Execution) -> None:
        """How late a run started against its planned start, for CloudWatch (the alarm on
        late schedules reads it; the API shows it per run as ``start_delay_ms``)."""
        delay = execution.start_delay_ms()
        if delay is not None and self._metrics is not None:
            self._metrics.emit({"ScheduleRunLateness": (max(0.0, delay) / 1000, "Seconds")}, {})

    def count(self, schedule: Schedule, fields: dict[str, float], ms: float | None) -> None:
        """A schedule's counters, with its name."""
        if self._metrics is not None:
            self._metrics.count("schedules", schedule.id, fields, ("duration", ms), name=schedule.name)

    def release(
        self, schedule_id: str, execution_id: str, succeeded: bool | None, settled: bool | None = None
    ) -> int:
        """Free the run's overlap slot; a run buffered meanwhile is queued now. Answers the
        failure streak (see ``finish_run``)."""
        buffered, streak = self.store.finish_run(
            schedule_id, execution_id, succeeded, to_iso(self._clock()), settled=settled
        )
        if buffered:
            try:
                self.engine.queue.send(messages.decode(ScheduledRun, buffered))
            except MalformedMessage:
                log.error("dropping a malformed buffered run of %s", schedule_id)
        return streak

    def retry_finished(self, execution_id: str, succeeded: bool) -> None:
        """A retry job of a failed run finished: the run's history says how it ended, and the
        schedule's failure streak moves (which may pause it)."""
        execution = self.executions.find(execution_id)
        if execution is None:
            return
        if self.executions.transition(execution, "retrying", "succeeded" if succeeded else "failed") is None:
            return  # settled before (the job's end is delivered at least once)
        schedule = self.store.settle(execution.schedule_id, succeeded)
        if schedule is not None and not succeeded:  # a deleted one's tombstone is not enabled
            self._schedules.pause_if_failing(schedule, schedule.failure_streak)
