"""The minute tick and the dispatch of runs: due schedules fire, manual runs and backfills start.

The herd (10,000 schedules due at midnight) is split in two. **The tick only finds**: one Query
page per shard of the due index for what is due before the next tick (the look-ahead), handed on
50 schedules a ``dispatch`` message, 10 messages a SendMessageBatch; a shard with more pages is
handed on too, so a tick's time never grows with the herd. **Dispatch workers fire**, in
parallel: a consistent BatchGetItem of their 50, then per schedule one write that claims its
runs and moves its next run on (a transaction), and the runs sent 10 a SendMessageBatch, each
with the SQS delay that makes it start at its time (on the second, not on the tick).

A run's execution id is derived from its schedule and scheduled time, so however many ticks and
workers see a run it is claimed once; a worker whose write failed sends only the runs that carry
its own message's token (its own write, its answer lost; or its own crash before the send), never
another's; what nobody sent, the reconciler sends (``services/reconciler.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.ids import RANDOM_CHARS, TIME_CHARS, encode, new_id
from chalicelib.domain.messages import DueSchedules, MalformedMessage, ScheduledRun, decode
from chalicelib.domain.schedule import LOOK_AHEAD, Execution, Schedule
from chalicelib.domain.timeutil import parse_iso, to_iso, utcnow
from chalicelib.errors import DependencyUnavailable, ValidationFailed
from chalicelib.services.schedules import ScheduleService
from chalicelib.store.queues import Queue
from chalicelib.store.schedules import SHARDS, ExecutionStore, ScheduleStore
from chalicelib.tracing import subsegment

log = logging.getLogger("conductor.scheduler")
MAX_BACKFILL = 100
MAX_BACKFILL_RANGE = timedelta(days=31)
#: due schedules one dispatch message carries: one BatchGetItem, then one write each
CHUNK = 50
#: due schedules one Query page of the tick takes per shard (workers page on past it)
PAGE = 500
#: the soonest starts the tick notes for the dashboard
UPCOMING = 50
#: the newest schedules the dashboard adds to them (made since the last tick)
RECENT = 25
#: runs one transaction claims beside the schedule's advance (TransactWriteItems takes 100)
MAX_RUNS_PER_WRITE = 99


def execution_id(schedule_id: str, scheduled_for: datetime) -> str:
    """``exe_`` + the run's time + bits from the schedule id: one id per run, on every tick."""
    digest = int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:10], "big")
    ms = int(scheduled_for.timestamp() * 1000)
    return f"exe_{encode(ms, TIME_CHARS)}{encode(digest, RANDOM_CHARS)}"


def _message(execution: Execution) -> tuple[ScheduledRun, datetime]:
    """A claimed run's message and when it is to start."""
    start = parse_iso(execution.scheduled_for) + timedelta(seconds=int(execution.start_offset_seconds or 0))
    manual = execution.trigger == "manual"
    return ScheduledRun(execution.schedule_id, execution.sort_key, None if manual else start), start


class Scheduler:
    def __init__(
        self,
        schedules: ScheduleService,
        store: ScheduleStore,
        executions: ExecutionStore,
        queue: Queue,
        dispatch_queue: Queue,
        history_days: int = 30,
        clock: Callable[[], datetime] = utcnow,
        look_ahead: timedelta = LOOK_AHEAD,
        token: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self._schedules = schedules
        self.store = store
        self._executions = executions
        self.queue = queue
        self.dispatch_queue = dispatch_queue
        self._history = timedelta(days=history_days)
        self._clock = clock
        self.look_ahead = look_ahead  # how far ahead a tick takes runs
        self._token = token

    # --- the tick: find, hand on ------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        """Find what is due before the next tick and hand it to the dispatch workers: one Query
        page per shard and one SendMessageBatch per 500 due schedules; the shards with more pages
        are handed on as they are (a worker pages on)."""
        now = self._clock()
        until = to_iso(now + self.look_ahead)
        handed: list[DueSchedules] = []
        due: list[tuple[str, str]] = []
        unread = []
        for shard in range(SHARDS):
            try:
                page, after = self.store.due_page(str(shard), until, None, PAGE)
            except DependencyUnavailable:  # the other shards' runs still go out on time
                unread.append(shard)
                continue
            due += page
            if after is not None:
                handed.append(self._page_from(str(shard), after, until))
        handed = self._chunks(due) + handed
        self.dispatch_queue.send_timed([(m, now) for m in handed], now)
        if unread:  # their runs wait for the next tick (a minute; the catch-up policy decides)
            log.error("tick: due shards %s could not be read; the next tick reads them", unread)
        try:
            self._note_upcoming(now)
        except DependencyUnavailable:  # the dashboard keeps the previous list a minute longer
            log.warning("tick: the soonest starts could not be noted")
        return {"due": len(due), "messages": len(handed), "unread_shards": len(unread)}

    def _note_upcoming(self, now: datetime) -> None:
        """The soonest starts across every shard, kept in one item for the dashboard (one Query
        per shard here, once a minute, instead of on every overview)."""
        since = to_iso(now - self.look_ahead)  # a run already dispatched is still to come
        starts = sorted(
            (to_iso(first[0]), s.id)
            for shard in range(SHARDS)
            for s in self.store.upcoming(str(shard), since, UPCOMING)
            if (first := s.next_starts(now, 1))
        )
        self.store.save_upcoming(starts[:UPCOMING], to_iso(now), int((now + timedelta(days=1)).timestamp()))

    def hand_on_if_soon(self, schedule: Schedule) -> None:
        """A schedule just made, changed or resumed whose next run comes before the next tick
        would take it (the tick before it has passed): handed to a dispatch worker now, so it
        starts on its time, not at the next tick. A failed send leaves it to that tick."""
        if not schedule.enabled or schedule.next_run_at is None:
            return
        now = self._clock()
        if parse_iso(schedule.next_run_at) > now + self.look_ahead:
            return  # a tick takes it ahead of its time
        try:
            self.dispatch_queue.send_timed(
                [(DueSchedules(self._token(), ((schedule.id, schedule.next_run_at),)), now)], now
            )
        except DependencyUnavailable:
            log.warning("schedule %s: its next run waits for the tick (dispatch queue down)", schedule.id)

    def _page_from(self, shard: str, after: dict[str, Any], until: str) -> DueSchedules:
        """The rest of a shard's due schedules, from the key ``after``, for a worker to page on."""
        return DueSchedules(self._token(), shard=shard, after=json.dumps(after), until=until)

    def _chunks(self, due: list[tuple[str, str]]) -> list[DueSchedules]:
        return [DueSchedules(self._token(), tuple(due[i : i + CHUNK])) for i in range(0, len(due), CHUNK)]

    # --- the dispatch workers: fire -----------------------------------------------------------

    def dispatch(self, body: str) -> str:
        """One ``dispatch`` message: a shard's next page found and handed on, or up to 50 due
        schedules fired. Safe to deliver twice (see the module's docstring)."""
        try:
            message = decode(DueSchedules, body)
        except MalformedMessage:
            log.error("dropping a malformed dispatch message: %.200s", body)
            return "malformed"
        now = self._clock()
        if message.shard is not None:
            return self._page_on(message, now)
        current = self.store.get_current({schedule_id for schedule_id, _ in message.due})
        sends: list[tuple[ScheduledRun, datetime]] = []
        for schedule_id, seen in message.due:
            schedule = current.get(schedule_id)
            if schedule is None or schedule.deleted_at:
                continue
            with subsegment("schedule_dispatch", schedule_id=schedule_id):
                if schedule.next_run_at == seen:
                    sends += self._fire(schedule, seen, now, message.token)
                else:  # moved on: by us (this message again, after a crash) or by another
                    sends += self._ours(
                        [self._planned(schedule, parse_iso(seen), "scheduled", now, message.token)],
                        message.token,
                    )
        self.queue.send_timed(sends, now)
        return f"sent {len(sends)}"

    def _page_on(self, message: DueSchedules, now: datetime) -> str:
        """The next page of a shard too big for one: its chunks, and the rest handed on again."""
        assert message.shard is not None and message.until is not None
        due, after = self.store.due_page(
            message.shard, message.until, json.loads(message.after) if message.after else None, PAGE
        )
        handed = self._chunks(due)
        if after is not None:
            handed.append(self._page_from(message.shard, after, message.until))
        self.dispatch_queue.send_timed([(m, now) for m in handed], now)
        return f"paged {len(due)}"

    def _fire(
        self, schedule: Schedule, seen: str, now: datetime, token: str
    ) -> list[tuple[ScheduledRun, datetime]]:
        """Claim a schedule's due runs and move it on, in one write; the messages to send."""
        horizon = now + self.look_ahead
        runs, _missed = schedule.due_runs(now, horizon)
        remaining = schedule.remaining_actions  # Temporal's limited actions
        if remaining is not None:
            runs = runs[:remaining]
            remaining -= len(runs)
        upcoming = schedule.upcoming(horizon, 1) if remaining != 0 else []
        following = to_iso(upcoming[0]) if upcoming else None
        planned = [self._planned(schedule, t, trigger, now, token) for t, trigger in runs]
        alone, together = planned[:-MAX_RUNS_PER_WRITE], planned[-MAX_RUNS_PER_WRITE:]
        for execution in alone:  # a catch-up of more than a transaction takes: claimed first
            self._executions.claim(execution)
        failed = self.store.dispatch(
            schedule,
            seen,
            following,
            to_iso(now),
            [self._executions.claim_write(e) for e in together],
            remaining,
        )
        if failed == "run":  # a run of it exists (an old tick's): claimed one by one
            claimed = [self._executions.claim(e)[0] for e in planned]
            self.store.dispatch(schedule, seen, following, to_iso(now), [], remaining)
            planned = [e for e in claimed if e.status == "pending" and e.claim_token == token]
        elif failed is not None:  # moved on: maybe by this very write, its answer lost
            sends = self._ours(planned, token)
            if remaining == 0 and sends:
                self._schedules.actions_used_up(schedule.id)
            return sends
        if remaining == 0:
            self._schedules.actions_used_up(schedule.id)
        return [_message(e) for e in planned]

    def _ours(self, planned: list[Execution], token: str) -> list[tuple[ScheduledRun, datetime]]:
        """Of these runs, the ones this message claimed and that wait to start (read again)."""
        sends = []
        for execution in planned:
            stored = self._executions.get(execution.schedule_id, execution.sort_key)
            if stored is not None and stored.status == "pending" and stored.claim_token == token:
                sends.append(_message(stored))
        return sends

    def _planned(
        self,
        schedule: Schedule,
        scheduled_for: datetime,
        trigger: str,
        now: datetime,
        token: str | None,
        manual: bool = False,
        overlap_policy: str | None = None,
    ) -> Execution:
        exe_id = new_id("exe") if manual else execution_id(schedule.id, scheduled_for)
        offset = schedule.start_offset(scheduled_for) if trigger in ("scheduled", "catchup") else 0
        return Execution(
            schedule_id=schedule.id,
            sort_key=f"{to_iso(scheduled_for)}#{exe_id}",
            id=exe_id,
            scheduled_for=to_iso(scheduled_for),
            trigger=trigger,
            status="pending",
            created_at=to_iso(now),
            expires_at=int((now + self._history).timestamp()),
            claim_token=token,
            start_offset_seconds=offset,
            overlap_policy=overlap_policy,
        )

    def _dispatch(
        self,
        schedule: Schedule,
        scheduled_for: datetime,
        trigger: str,
        now: datetime,
        manual: bool = False,
        overlap_policy: str | None = None,
    ) -> Execution:
        """Claim one run by hand (run now, backfill) and queue it (again, if an earlier claim
        never got queued)."""
        execution, new = self._executions.claim(
            self._planned(schedule, scheduled_for, trigger, now, None, manual, overlap_policy)
        )
        if new or execution.status == "pending":
            self.queue.send_timed([_message(execution)], now)
        return execution

    def upcoming(self, limit: int) -> list[dict[str, Any]]:
        """The soonest next starts across schedules: the last tick's list (one GetItem) and the
        schedules made since (one Query of the newest), each checked against its schedule as it
        is now (one BatchGetItem: a paused, deleted or changed one shows its truth). A schedule
        changed or resumed since the tick to run sooner joins at the next tick (a minute)."""
        now = self._clock()
        noted, noted_at = self.store.read_upcoming()
        newest, _ = self.store.list(None, None, RECENT, None)
        ids = {schedule_id for _, schedule_id in noted[:UPCOMING]}
        ids |= {s.id for s in newest if noted_at is None or s.created_at >= noted_at}
        current = self.store.get_many(ids)
        found = sorted(
            (starts[0], s.id, s) for s in current if not s.deleted_at and (starts := s.next_starts(now, 1))
        )
        return [
            {"schedule_id": s.id, "name": s.name, "next_run_at": to_iso(start)}
            for start, _, s in found[:limit]
        ]

    def execute_now(self, schedule_id: str) -> Execution:
        now = self._clock()
        return self._dispatch(self._schedules.require(schedule_id), now, "manual", now, manual=True)

    def backfill(
        self, schedule_id: str, start: datetime, end: datetime, overlap_policy: str | None = None
    ) -> list[Execution]:
        """The schedule's times in a past range, run now; ``overlap_policy`` for these runs
        only (Temporal's per-backfill policy: ``allow`` runs them side by side), else the
        schedule's."""
        now = self._clock()
        if not start < end <= now:
            raise ValidationFailed(
                "Backfill needs a past range.",
                [{"field": "from", "problem": "must be before 'to', and 'to' not in the future"}],
            )
        if end - start > MAX_BACKFILL_RANGE:
            raise ValidationFailed(
                "Backfill range too long.",
                [{"field": "from", "problem": f"at most {MAX_BACKFILL_RANGE.days} days"}],
            )
        schedule = self._schedules.require(schedule_id)
        # one more than allowed: to tell "too many"
        times = schedule.runs_in(start - timedelta(microseconds=1), end, MAX_BACKFILL + 1)
        if len(times) > MAX_BACKFILL:
            raise ValidationFailed(
                "Backfill would start too many runs.",
                [{"field": "to", "problem": f"at most {MAX_BACKFILL} runs per request"}],
            )
        return [self._dispatch(schedule, t, "backfill", now, overlap_policy=overlap_policy) for t in times]
