"""The minute tick and the dispatch of runs: due schedules fire, manual runs and backfills start.

A run's execution id is derived from its schedule and scheduled time, and its record is created
with a conditional write: however many ticks see a run (EventBridge delivers at least once, ticks
may overlap), it is claimed once, queued, and started once (``services/runs.py``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.ids import RANDOM_CHARS, TIME_CHARS, encode, new_id
from chalicelib.domain.messages import ScheduledRun
from chalicelib.domain.schedule import Execution, Schedule, jitter_offset
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import ValidationFailed
from chalicelib.services.schedules import ScheduleService
from chalicelib.store.queues import Queue
from chalicelib.store.schedules import SHARDS, ExecutionStore, ScheduleStore
from chalicelib.tracing import subsegment

MAX_BACKFILL = 100
MAX_BACKFILL_RANGE = timedelta(days=31)


def execution_id(schedule_id: str, scheduled_for: datetime) -> str:
    """``exe_`` + the run's time + bits from the schedule id: one id per run, on every tick."""
    digest = int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:10], "big")
    ms = int(scheduled_for.timestamp() * 1000)
    return f"exe_{encode(ms, TIME_CHARS)}{encode(digest, RANDOM_CHARS)}"


class Scheduler:
    def __init__(
        self,
        schedules: ScheduleService,
        store: ScheduleStore,
        executions: ExecutionStore,
        queue: Queue,
        history_days: int = 30,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._schedules = schedules
        self.store = store
        self._executions = executions
        self.queue = queue
        self._history = timedelta(days=history_days)
        self._clock = clock

    def _dispatch(self, schedule: Schedule, scheduled_for: datetime, trigger: str,
                  now: datetime, manual: bool = False) -> Execution:
        """Claim one run and queue it (again, if an earlier claim never got queued)."""
        exe_id = new_id("exe") if manual else execution_id(schedule.id, scheduled_for)
        sort_key = f"{to_iso(scheduled_for)}#{exe_id}"
        execution, new = self._executions.claim(Execution(
            schedule_id=schedule.id, sort_key=sort_key, id=exe_id,
            scheduled_for=to_iso(scheduled_for), trigger=trigger, status="pending",
            created_at=to_iso(now), expires_at=int((now + self._history).timestamp())))
        if new or execution.status == "pending":
            delay = jitter_offset(schedule.id, scheduled_for, schedule.jitter_seconds)
            self.queue.send(ScheduledRun(schedule.id, sort_key), delay=0 if manual else delay)
        return execution

    def tick(self) -> dict[str, int]:
        """Fire every due run: one Query per shard, then per due schedule a claim, a message and
        an advance. Cost follows the due schedules, not the total."""
        now = self._clock()
        dispatched = skipped = 0
        for shard in range(SHARDS):
            for schedule in self.store.due(str(shard), to_iso(now)):
                with subsegment("schedule_tick", schedule_id=schedule.id):
                    ran, missed = schedule.due_runs(now)
                    for scheduled_for, trigger in ran:
                        self._dispatch(schedule, scheduled_for, trigger, now)
                        dispatched += 1
                    skipped += missed
                    upcoming = schedule.upcoming(now, 1)
                    self.store.advance(schedule, schedule.next_run_at,
                                       to_iso(upcoming[0]) if upcoming else None, to_iso(now))
        return {"dispatched": dispatched, "missed_skipped": skipped}

    def upcoming(self, limit: int) -> list[dict[str, Any]]:
        """The soonest next runs across schedules: one Query per shard of the due index."""
        now = to_iso(self._clock())
        found = [s for shard in range(SHARDS) for s in self.store.upcoming(str(shard), now, limit)]
        found.sort(key=lambda s: s.next_run_at or "")
        return [{"schedule_id": s.id, "name": s.name, "next_run_at": s.next_run_at}
                for s in found[:limit]]

    def execute_now(self, schedule_id: str) -> Execution:
        now = self._clock()
        return self._dispatch(self._schedules.require(schedule_id), now, "manual", now,
                              manual=True)

    def backfill(self, schedule_id: str, start: datetime, end: datetime) -> list[Execution]:
        now = self._clock()
        if not start < end <= now:
            raise ValidationFailed("Backfill needs a past range.", [
                {"field": "from", "problem": "must be before 'to', and 'to' not in the future"}])
        if end - start > MAX_BACKFILL_RANGE:
            raise ValidationFailed("Backfill range too long.", [
                {"field": "from", "problem": f"at most {MAX_BACKFILL_RANGE.days} days"}])
        schedule = self._schedules.require(schedule_id)
        # one more than allowed: to tell "too many"
        times = schedule.runs_in(start - timedelta(microseconds=1), end, MAX_BACKFILL + 1)
        if len(times) > MAX_BACKFILL:
            raise ValidationFailed("Backfill would start too many runs.", [
                {"field": "to", "problem": f"at most {MAX_BACKFILL} runs per request"}])
        return [self._dispatch(schedule, t, "backfill", now) for t in times]
