"""Schedules and their executions. Claims, advances and counters are conditional or atomic writes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError
from pynamodb.expressions.condition import size

from chalicelib.domain.schedule import Execution, Schedule
from chalicelib.domain.timeutil import epoch_of
from chalicelib.errors import Conflict, NotFound
from chalicelib.store import lists
from chalicelib.store.base import bind
from chalicelib.store.common import (
    Write,
    conditional_failure,
    page_of,
    save_once,
    transact,
    unavailable,
)
from chalicelib.store.due import due_actions, due_fields, overdue, postpone
from chalicelib.store.mapping import entity_of, fields_of, stored_value
from chalicelib.store.models import ExecutionRecord, IdempotencyRecord, ScheduleRecord

#: runs that may wait behind a running one under ``buffer_all`` (more are skipped)
MAX_BUFFERED = 100
#: The due index is split over this many partitions (a tick queries each): at midnight every
#: schedule due moves its index entry once, and 32 keys carry ~32,000 such writes a second.
#: Items written under the 4 shards of before are still found (shard ids 0-3 are among these).
SHARDS = 32


def shard_of(schedule_id: str) -> str:
    return str(int(hashlib.sha256(schedule_id.encode()).hexdigest(), 16) % SHARDS)


def _schedule(record: ScheduleRecord) -> Schedule:
    schedule = entity_of(Schedule, record)
    # the runs holding a slot are ids in a set (a retried ADD of the same id counts once)
    return dataclasses.replace(
        schedule, running_ids=tuple(sorted(schedule.running_ids)), running=len(schedule.running_ids)
    )


def _lists(schedule: Schedule | None) -> set[str]:
    """The filtered lists a schedule is in (enabled, each tag, both); a deleted one in none."""
    if schedule is None or schedule.deleted_at:
        return set()
    return lists.keys("sch", {}, {"enabled": "true" if schedule.enabled else "false", "tag": schedule.tags})


def _execution(record: ExecutionRecord) -> Execution:
    return entity_of(Execution, record)


KIND = "run"
#: statuses a run ends in (its own step is over: a retrying run's retry job carries on)
RUN_ENDS = ("succeeded", "failed", "skipped", "retrying")


def _live_key(expires_at: int, sort_key: str) -> str:
    return f"{expires_at:012d}#{sort_key}"


#: the soonest starts across every shard, as the last tick saw them (one item)
UPCOMING_KEY = "schedules:upcoming"


class ScheduleStore:
    def __init__(self) -> None:
        self._model = bind(ScheduleRecord, "schedules")
        self._lists = lists.Lists()
        self._upcoming = bind(IdempotencyRecord, "idempotency")

    def save_upcoming(self, starts: list[tuple[str, str]], now_iso: str, expires_at: int) -> None:
        """The tick's list of the soonest (start, schedule id) pairs across all shards: one
        PutItem a minute, so a reader needs one GetItem, not a Query per shard."""
        try:
            self._upcoming(
                key=UPCOMING_KEY, result_id=json.dumps(starts), created_at=now_iso, expires_at=expires_at
            ).save()
        except PynamoDBException as exc:
            raise unavailable("idempotency") from exc

    def read_upcoming(self) -> tuple[list[tuple[str, str]], str | None]:
        """The last tick's list and when it was noted (nothing, None: before the first tick)."""
        try:
            record = self._upcoming.get(UPCOMING_KEY)
        except self._upcoming.DoesNotExist:
            return [], None
        except PynamoDBException as exc:
            raise unavailable("idempotency") from exc
        return (
            [(str(at), str(schedule_id)) for at, schedule_id in json.loads(record.result_id)],
            record.created_at,
        )

    def _record(self, schedule: Schedule) -> ScheduleRecord:
        """The item: the entity's fields, and the index keys (in the due index only while a next
        run is set)."""
        return self._model(
            **fields_of(schedule),
            created_sk=f"{schedule.created_at}#{schedule.id}",
            due_shard=shard_of(schedule.id) if schedule.next_run_at else None,
        )

    def _changes(self, before: Schedule | None, after: Schedule | None, schedule: Schedule) -> list[Write]:
        return self._lists.changes(
            _lists(before), _lists(after), f"{schedule.created_at}#{schedule.id}", schedule.id
        )

    def create(self, schedule: Schedule) -> None:
        """The schedule and its filtered lists, in one transaction."""
        # Condition: a new id.
        writes = [
            Write(self._record(schedule), self._model.id.does_not_exist(), "schedule"),
            *self._changes(None, schedule, schedule),
        ]
        if transact(writes, "schedules") is not None:
            raise Conflict(f"Schedule {schedule.id} exists already.")

    def get(self, schedule_id: str) -> Schedule | None:
        """A live schedule (a deleted one's tombstone is None here: see ``get_any``)."""
        schedule = self.get_any(schedule_id)
        return None if schedule is None or schedule.deleted_at else schedule

    def get_any(self, schedule_id: str) -> Schedule | None:
        """The schedule or its tombstone."""
        try:
            return _schedule(self._model.get(schedule_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def replace(self, schedule: Schedule, previous: Schedule, expected_version: int) -> None:
        """Write a changed definition; 409 when someone changed it since ``expected_version``.
        ``previous``: the schedule as read, whose lists it leaves when paused or retagged (the
        same transaction); a change that moves no list is one PutItem."""
        # Condition: optimistic concurrency on the version the writer read.
        condition = self._model.version == expected_version
        moves = self._changes(previous, schedule, schedule)
        try:
            if moves:
                failed = transact([Write(self._record(schedule), condition, "schedule"), *moves], "schedules")
            else:
                self._record(schedule).save(condition=condition)
                failed = None
        except PutError as exc:
            if not conditional_failure(exc):
                raise unavailable("schedules") from exc
            failed = "schedule"
        if failed is not None:
            raise Conflict(
                "The schedule changed since you read it (stale version).",
                [{"field": "version", "problem": "reload the schedule and apply your change"}],
            )

    def delete(self, schedule: Schedule, deleted_at: str, expires_at: int) -> None:
        """Leave a tombstone: out of the due and list indexes and out of its filtered lists (one
        transaction), readable for its history's sake until ``expires_at`` (TTL)."""
        m = self._model
        actions = [
            m.deleted_at.set(deleted_at),
            m.expires_at.set(expires_at),
            m.enabled.set("false"),
            m.due_shard.remove(),
            m.next_run_at.remove(),
            m.list_pk.remove(),
        ]
        # Condition: the schedule exists and is not deleted already.
        writes = [
            Write(
                m(id=schedule.id), m.id.exists() & m.deleted_at.does_not_exist(), "schedule", actions=actions
            ),
            *self._changes(schedule, None, schedule),
        ]
        if transact(writes, "schedules") is not None:
            raise NotFound(f"No schedule {schedule.id}.")

    def get_many(self, schedule_ids: set[str]) -> list[Schedule]:
        """Schedules (tombstones too) by id, 100 a BatchGetItem; an unknown id is left out."""
        try:
            return [_schedule(r) for r in self._model.batch_get(sorted(schedule_ids))] if schedule_ids else []
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def due_page(
        self, shard: str, until_iso: str, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        """One page of a shard's due schedules, as (id, next_run_at) pairs, and the key to go on
        from (None: the shard is done). The tick finds; dispatch workers fire."""
        m = self._model
        try:
            result = m.due.query(
                shard, m.next_run_at <= until_iso, limit=limit, page_size=limit, last_evaluated_key=after
            )
            found = [(r.id, str(r.next_run_at)) for r in result]
            return found, result.last_evaluated_key
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def get_current(self, schedule_ids: set[str]) -> dict[str, Schedule]:
        """Schedules by id read consistently (a dispatch fires only on the next run as it is now),
        100 a BatchGetItem."""
        try:
            return (
                {
                    r.id: _schedule(r)
                    for r in self._model.batch_get(sorted(schedule_ids), consistent_read=True)
                }
                if schedule_ids
                else {}
            )
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def dispatch(
        self,
        schedule: Schedule,
        expected_next: str,
        next_run_at: str | None,
        now_iso: str,
        runs: list[Write],
        remaining: int | None = None,
    ) -> str | None:
        """Claim the runs and move the next run on, in one write (a TransactWriteItems of the
        advance and the runs' records): a run is never claimed without the schedule moving on,
        nor the schedule moved without its runs. Answers the name of the write whose condition
        failed ("schedule": it moved on already; "run": a run exists), None when written.
        ``remaining``: the runs left to start (limited actions), moved in the same write."""
        m = self._model
        actions = [m.updated_at.set(now_iso)]
        if remaining is not None:
            actions.append(m.remaining_actions.set(remaining))
        if next_run_at is None:
            actions += [m.next_run_at.remove(), m.due_shard.remove()]
        else:
            actions += [m.next_run_at.set(next_run_at), m.due_shard.set(shard_of(schedule.id))]
        # Condition: the next run is still the one this dispatch read.
        advance = Write(m(id=schedule.id), m.next_run_at == expected_next, "schedule", actions=actions)
        return transact([advance, *runs], "schedules")

    def upcoming(self, shard: str, now_iso: str, limit: int) -> list[Schedule]:
        """The next ``limit`` runs of one shard, soonest first."""
        m = self._model
        try:
            return [_schedule(r) for r in m.due.query(shard, m.next_run_at >= now_iso, limit=limit)]
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def take_slot(self, schedule_id: str, execution_id: str, exclusive: bool) -> bool:
        """Hold a slot for a run; with ``exclusive``, only if no other run holds one (overlap
        policies). Its id joins a set: a retried write (its answer lost) finds it there."""
        m = self._model
        # Condition: the schedule exists and, when exclusive, no run but this one holds a slot.
        condition = m.id.exists()
        if exclusive:
            condition = condition & (m.running_ids.does_not_exist() | m.running_ids.contains(execution_id))
        try:
            m(id=schedule_id).update(actions=[m.running_ids.add({execution_id})], condition=condition)
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("schedules") from exc
        return True

    def free_slot(self, schedule_id: str, execution_id: str) -> None:
        """Give back a slot a run took that has nothing to run (removing an id: repeatable)."""
        m = self._model
        try:
            # Condition: the schedule exists (a deleted one keeps no slots).
            m(id=schedule_id).update(actions=[m.running_ids.delete({execution_id})], condition=m.id.exists())
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("schedules") from exc

    def buffer(self, schedule_id: str, message: str) -> bool:
        """Keep one run waiting for the running one (``buffer_one``); False if one already waits."""
        m = self._model
        try:
            # Condition: no run is buffered yet.
            m(id=schedule_id).update(
                actions=[m.buffered.set(message)], condition=m.id.exists() & m.buffered.does_not_exist()
            )
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("schedules") from exc
        return True

    def buffer_more(self, schedule_id: str, message: str) -> bool:
        """Queue one more run behind the running one (``buffer_all``), oldest first; False when
        MAX_BUFFERED wait already. A retried append (its answer lost) finds it there: the same
        run is never buffered twice (it would take a turn and run nothing)."""
        m = self._model
        # Condition: not waiting already, and room for one more.
        room = m.buffered_all.does_not_exist() | (size(m.buffered_all) < MAX_BUFFERED)
        try:
            m(id=schedule_id).update(
                actions=[m.buffered_all.set((m.buffered_all | []).append([message]))],
                condition=m.id.exists() & room & ~m.buffered_all.contains(message),
            )
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("schedules") from exc
            current = self.get(schedule_id)
            return current is not None and message in current.buffered_all
        return True

    def finish_run(
        self,
        schedule_id: str,
        execution_id: str,
        succeeded: bool | None,
        now_iso: str,
        settled: bool | None = None,
    ) -> tuple[str | None, int]:
        """Free the slot, count the outcome and take a buffered run, in one conditional write.

        ``settled``: the run ended for good — True succeeded (the failure streak restarts),
        False failed after its retries (the streak grows); None: not yet (a retry job runs on).
        Answers the buffered run taken and the failure streak after this write. The run's slot
        is part of the condition: a retried write (its answer lost) finds the slot gone and
        answers what the first one took.
        """
        m = self._model
        taken: str | None = None
        for _ in range(5):
            current = self.get(schedule_id)
            if current is None:
                return None, 0  # deleted meanwhile
            if execution_id not in current.running_ids:  # released already: by our own write, its answer lost
                return taken, int(current.failure_streak or 0)
            record = m(schedule_id)
            buffered = taken = current.buffered
            actions = [m.last_run_at.set(now_iso), m.buffered.remove(), m.running_ids.delete({execution_id})]
            # buffer_all: the oldest waiting run is taken (the first of the list, as read)
            head = current.buffered_all[0] if not buffered and current.buffered_all else None
            if head is not None:
                taken = head
                actions.append(m.buffered_all[0].remove())
            if succeeded is True:
                actions += [m.runs.add(1), m.last_success_at.set(now_iso)]
            elif succeeded is False:
                actions += [m.runs.add(1), m.failures.add(1), m.last_failure_at.set(now_iso)]
            actions += self._streak(settled)
            # Condition: the buffered run we take is the one we read (another may arrive), and
            # the run still holds its slot (this release was not written yet).
            same = m.buffered == buffered if buffered else m.buffered.does_not_exist()
            if head is not None:
                same = same & (m.buffered_all[0] == head)
            try:
                record.update(
                    actions=actions, condition=m.id.exists() & same & m.running_ids.contains(execution_id)
                )
                return taken, int(record.failure_streak or 0)  # the item as written
            except UpdateError as exc:
                if not conditional_failure(exc):
                    raise unavailable("schedules") from exc
        raise Conflict(f"Schedule {schedule_id} is changing too fast to record its run.")

    def _streak(self, settled: bool | None) -> list[Any]:
        m = self._model
        if settled is True:
            return [m.failure_streak.set(0)]
        if settled is False:
            return [m.failure_streak.add(1)]
        return []

    def settle(self, schedule_id: str, succeeded: bool) -> Schedule | None:
        """A run that a retry job carried on ended: move the failure streak; answer the item as
        written (None when the schedule is gone)."""
        m = self._model
        record = m(schedule_id)  # the key alone: one UpdateItem, the item comes back whole
        try:
            # Condition: the schedule still exists (an update on a gone id would create one).
            record.update(actions=self._streak(succeeded), condition=m.id.exists())
        except UpdateError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("schedules") from exc
        return _schedule(record)

    def list(
        self, enabled: bool | None, tag: str | None, limit: int, before: str | None
    ) -> tuple[list[Schedule], str | None]:
        """Newest first: every schedule (the by-created index), or one filtered list (a Query
        and a BatchGetItem, whatever else is stored)."""
        m = self._model
        if enabled is not None or tag is not None:
            filters = {"enabled": None if enabled is None else ("true" if enabled else "false"), "tag": tag}
            found, last = self._lists.items(
                lists.key("sch", {k: v for k, v in filters.items() if v is not None}),
                limit,
                before,
                m,
                "schedules",
                _schedule,
            )
            return [s for s in found if not s.deleted_at], last
        try:
            records, last = page_of(
                m.by_created.query(
                    "schedule",
                    m.created_sk < before if before else None,
                    scan_index_forward=False,
                    page_size=limit + 1,
                ),
                limit,
            )
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc
        return [_schedule(r) for r in records], last


class ExecutionStore:
    def __init__(self) -> None:
        self._model = bind(ExecutionRecord, "executions")

    def _new_record(self, execution: Execution) -> ExecutionRecord:
        # a pending run is due at its planned start: the reconciler sends it if nobody did
        due = (
            epoch_of(execution.scheduled_for) + int(execution.start_offset_seconds or 0)
            if execution.status == "pending"
            else None
        )
        return self._model(
            **fields_of(execution),
            live_sk=_live_key(execution.expires_at, execution.sort_key),
            **due_fields(KIND, execution.id, due),
        )

    def claim(self, execution: Execution) -> tuple[Execution, bool]:
        """Create the run's record unless it exists; return it and whether this call made it."""
        # the first tick creates it; others find it
        stored, new = save_once(
            self._new_record(execution),
            self._model.sort_key,
            "executions",
            lambda: self._model.get(execution.schedule_id, execution.sort_key, consistent_read=True),
        )
        return (execution if new else _execution(stored)), new

    def claim_write(self, execution: Execution) -> Write:
        """The run's creation as one write of a transaction (``ScheduleStore.dispatch``)."""
        # Condition: no run with this key yet (its id comes from the schedule and its time).
        return Write(self._new_record(execution), self._model.sort_key.does_not_exist(), "run")

    def get(self, schedule_id: str, sort_key: str) -> Execution | None:
        try:
            return _execution(self._model.get(schedule_id, sort_key, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("executions") from exc

    def find(self, execution_id: str) -> Execution | None:
        try:
            for record in self._model.by_id.query(execution_id, limit=1):
                return _execution(record)
        except PynamoDBException as exc:
            raise unavailable("executions") from exc
        return None

    def overdue(self, before: int, limit: int) -> list[tuple[Execution, Any]]:
        """Runs that should have started, or whose lease ran out, before ``before``."""
        return [(_execution(r), (r, due)) for r, due in overdue(self._model, KIND, before, limit)]

    def postpone(self, handle: Any, new_due: int) -> bool:
        record, seen = handle
        return postpone(record, KIND, record.id, seen, new_due)

    def start(
        self, execution: Execution, token: str, now_epoch: int, lease: int, started_at: str
    ) -> Execution | None:
        """Claim a run: pending → running under a lease carrying ``token``, or a running run
        whose lease ran out (its worker crashed) taken over. None when not ours."""
        m = self._model
        # Condition, either: (a) the run waits to start, or (b) it started and its lease ran out.
        fresh = m.status == "pending"
        abandoned = (m.status == "running") & (m.lease_until < now_epoch)
        fields = {"started_at": started_at, "claim_token": token, "lease_until": now_epoch + lease}
        actions = [
            m.status.set("running"),
            *due_actions(m, KIND, execution.id, now_epoch + lease),
            *(getattr(m, k).set(v) for k, v in fields.items()),
        ]
        try:
            m(execution.schedule_id, execution.sort_key).update(actions=actions, condition=fresh | abandoned)
        except UpdateError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("executions") from exc
        return dataclasses.replace(execution, status="running", **fields)

    def transition(
        self, execution: Execution, from_status: str | tuple[str, ...], to_status: str, **fields: Any
    ) -> Execution | None:
        """Move a run on; None when it was not in ``from_status`` any more."""
        m = self._model
        allowed = (from_status,) if isinstance(from_status, str) else from_status
        actions = [m.status.set(to_status)]
        if to_status in RUN_ENDS:
            actions += [*due_actions(m, KIND, execution.id, None), m.lease_until.remove()]
        for name, value in fields.items():
            attribute = getattr(m, name)
            actions.append(attribute.remove() if value is None else attribute.set(stored_value(value)))
        try:
            # Condition: the run is still in the state this step expects (no double start).
            m(execution.schedule_id, execution.sort_key).update(
                actions=actions, condition=m.status.is_in(*allowed)
            )
        except UpdateError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("executions") from exc
        return dataclasses.replace(execution, status=to_status, **fields)

    def trim(self, schedule_id: str, limits: dict[str, int], now_epoch: int) -> int:
        """Delete the runs past the newest ``limits[status]`` of each status (succeeded, failed),
        from the newest runs' first page: each run's end trims what it pushed out, so the cost
        is one Query and at most one BatchWriteItem, whatever the history holds."""
        page, _ = self.history(schedule_id, sum(limits.values()) + 25, None, now_epoch)
        seen: dict[str, int] = {}
        extra = []
        for execution in page:  # newest first
            if execution.status in limits:
                seen[execution.status] = seen.get(execution.status, 0) + 1
                if seen[execution.status] > limits[execution.status]:
                    extra.append(execution)
        try:
            with self._model.batch_write() as batch:
                for execution in extra:
                    batch.delete(self._model(execution.schedule_id, execution.sort_key))
        except PynamoDBException as exc:
            raise unavailable("executions") from exc
        return len(extra)

    def history(
        self, schedule_id: str, limit: int, before: str | None, now_epoch: int
    ) -> tuple[list[Execution], str | None]:
        """Runs not yet expired, the latest made first (the ``by-schedule-live`` index: runs
        expired and waiting for TTL are outside the key range, never read)."""
        m = self._model
        live = _live_key(now_epoch, "\uffff")  # after every run that expires by now
        condition = m.live_sk.between(live, before) if before else m.live_sk > live
        try:
            records = (
                r
                for r in m.by_schedule_live.query(
                    schedule_id, condition, scan_index_forward=False, page_size=limit + 2
                )
                if r.live_sk != before
            )  # BETWEEN includes the cursor's own run
            records, last = page_of(records, limit, key="live_sk")
        except PynamoDBException as exc:
            raise unavailable("executions") from exc
        return [_execution(r) for r in records], last
