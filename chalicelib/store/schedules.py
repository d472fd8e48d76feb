"""Schedules and their executions. Claims, advances and counters are conditional or atomic writes."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError

from chalicelib.errors import Conflict, NotFound
from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure, page_of, save_once, unavailable
from chalicelib.store.models import ExecutionRecord, ScheduleRecord

SHARDS = 4


class ScheduleStore:
    def __init__(self) -> None:
        self._model = bind(ScheduleRecord, "schedules")

    def new(self, **fields: Any) -> ScheduleRecord:
        return self._model(**fields)

    def create(self, record: ScheduleRecord) -> None:
        try:
            record.save(condition=self._model.id.does_not_exist())
        except PutError as exc:
            if conditional_failure(exc):
                raise Conflict(f"Schedule {record.id} exists already.") from exc
            raise unavailable("schedules") from exc

    def get(self, schedule_id: str) -> ScheduleRecord | None:
        """A live schedule (a deleted one's tombstone is None here: see ``get_any``)."""
        record = self.get_any(schedule_id)
        return None if record is None or record.deleted_at else record

    def get_any(self, schedule_id: str) -> ScheduleRecord | None:
        """The schedule or its tombstone."""
        try:
            return self._model.get(schedule_id, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def replace(self, record: ScheduleRecord, expected_version: int) -> None:
        """Write a changed definition; 409 when someone changed it since ``expected_version``."""
        try:
            # Condition: optimistic concurrency on the version the writer read.
            record.save(condition=self._model.version == expected_version)
        except PutError as exc:
            if conditional_failure(exc):
                raise Conflict("The schedule changed since you read it (stale version).", [
                    {"field": "version", "problem": "reload the schedule and apply your change"}
                ]) from exc
            raise unavailable("schedules") from exc

    def delete(self, schedule_id: str, deleted_at: str, expires_at: int) -> None:
        """Leave a tombstone: out of the due and list indexes, readable for its history's sake
        until ``expires_at`` (TTL)."""
        m = self._model
        try:
            # Condition: the schedule exists and is not deleted already.
            m(id=schedule_id).update(
                actions=[m.deleted_at.set(deleted_at), m.expires_at.set(expires_at),
                         m.enabled.set("false"), m.due_shard.remove(), m.next_run_at.remove(),
                         m.list_pk.remove()],
                condition=m.id.exists() & m.deleted_at.does_not_exist())
        except UpdateError as exc:
            if conditional_failure(exc):
                raise NotFound(f"No schedule {schedule_id}.") from exc
            raise unavailable("schedules") from exc

    def due(self, shard: str, now_iso: str, limit: int = 500) -> list[ScheduleRecord]:
        """Schedules of one shard whose next run is at or before now (the sparse ``due`` index)."""
        m = self._model
        try:
            return list(m.due.query(shard, m.next_run_at <= now_iso, limit=limit))
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def upcoming(self, shard: str, now_iso: str, limit: int) -> list[ScheduleRecord]:
        """The next ``limit`` runs of one shard, soonest first."""
        m = self._model
        try:
            return list(m.due.query(shard, m.next_run_at >= now_iso, limit=limit))
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc

    def advance(self, record: ScheduleRecord, expected_next: str | None, next_run_at: str | None,
                shard: str | None, now_iso: str) -> bool:
        """Move the next run on; False if another tick already did (both computed the same)."""
        m = self._model
        actions = [m.updated_at.set(now_iso)]
        if next_run_at is None:
            actions += [m.next_run_at.remove(), m.due_shard.remove()]
        else:
            actions += [m.next_run_at.set(next_run_at), m.due_shard.set(shard)]
        try:
            # Condition: the next run is still the one this tick read.
            record.update(actions=actions, condition=m.next_run_at == expected_next)
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("schedules") from exc
        return True

    def take_slot(self, schedule_id: str, exclusive: bool) -> bool:
        """Count a run as running; with ``exclusive``, only if none is (overlap policies)."""
        m = self._model
        # Condition: the schedule exists and, when exclusive, nothing of it is running.
        condition = m.id.exists()
        if exclusive:
            condition = condition & ((m.running == 0) | m.running.does_not_exist())
        try:
            m(id=schedule_id).update(actions=[m.running.add(1)], condition=condition)
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("schedules") from exc
        return True

    def buffer(self, schedule_id: str, message: str) -> bool:
        """Keep one run waiting for the running one (``buffer_one``); False if one already waits."""
        m = self._model
        try:
            # Condition: no run is buffered yet.
            m(id=schedule_id).update(actions=[m.buffered.set(message)],
                                     condition=m.id.exists() & m.buffered.does_not_exist())
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("schedules") from exc
        return True

    def finish_run(self, schedule_id: str, succeeded: bool | None, now_iso: str,
                   held_slot: bool, settled: bool | None = None) -> tuple[str | None, int]:
        """Free the slot, count the outcome and take a buffered run, in one conditional write.

        ``settled``: the run ended for good — True succeeded (the failure streak restarts),
        False failed after its retries (the streak grows); None: not yet (a retry job runs on).
        Answers the buffered run taken and the failure streak after this write.
        """
        m = self._model
        for _ in range(5):
            current = self.get(schedule_id)
            if current is None:
                return None, 0  # deleted meanwhile
            buffered = current.buffered
            actions = [m.last_run_at.set(now_iso), m.buffered.remove()]
            if held_slot:
                actions.append(m.running.add(-1))
            if succeeded is True:
                actions += [m.runs.add(1), m.last_success_at.set(now_iso)]
            elif succeeded is False:
                actions += [m.runs.add(1), m.failures.add(1), m.last_failure_at.set(now_iso)]
            actions += self._streak(settled)
            # Condition: the buffered run we take is the one we read (another may arrive).
            same = m.buffered == buffered if buffered else m.buffered.does_not_exist()
            try:
                current.update(actions=actions, condition=m.id.exists() & same)
                return buffered, int(current.failure_streak or 0)  # the item as written
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

    def settle(self, schedule_id: str, succeeded: bool) -> ScheduleRecord | None:
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
        return record

    def list(self, enabled: bool | None, tag: str | None, limit: int,
             before: str | None) -> tuple[list[ScheduleRecord], str | None]:
        m = self._model
        condition = m.created_sk < before if before else None
        filters = None
        if enabled is not None:
            filters = m.enabled == ("true" if enabled else "false")
        if tag is not None:
            clause = m.tags.contains(tag)
            filters = clause if filters is None else filters & clause
        try:
            return page_of(m.by_created.query("schedule", condition, scan_index_forward=False,
                                              filter_condition=filters, page_size=limit + 1), limit)
        except PynamoDBException as exc:
            raise unavailable("schedules") from exc


class ExecutionStore:
    def __init__(self) -> None:
        self._model = bind(ExecutionRecord, "executions")

    def claim(self, **fields: Any) -> tuple[ExecutionRecord, bool]:
        """Create the run's record unless it exists; return it and whether this call made it."""
        record = self._model(**fields)  # the first tick (or request) creates it; others find it
        return save_once(record, self._model.sort_key, "executions",
                         lambda: self.get(fields["schedule_id"], fields["sort_key"]))

    def get(self, schedule_id: str, sort_key: str) -> ExecutionRecord | None:
        try:
            return self._model.get(schedule_id, sort_key, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("executions") from exc

    def find(self, execution_id: str) -> ExecutionRecord | None:
        try:
            for record in self._model.by_id.query(execution_id, limit=1):
                return record
        except PynamoDBException as exc:
            raise unavailable("executions") from exc
        return None

    def transition(self, record: ExecutionRecord, from_status: str | tuple[str, ...],
                   to_status: str, **fields: Any) -> bool:
        m = self._model
        allowed = (from_status,) if isinstance(from_status, str) else from_status
        actions = [m.status.set(to_status)]
        for name, value in fields.items():
            attribute = getattr(m, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        try:
            # Condition: the run is still in the state this step expects (no double start).
            record.update(actions=actions, condition=m.status.is_in(*allowed))
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("executions") from exc
        return True

    def history(self, schedule_id: str, limit: int, before: str | None, now_epoch: int
                ) -> tuple[list[ExecutionRecord], str | None]:
        m = self._model
        condition = m.sort_key < before if before else None
        try:
            return page_of(m.query(schedule_id, condition, scan_index_forward=False,
                                   filter_condition=m.expires_at > now_epoch, page_size=limit + 1),
                           limit, key="sort_key")
        except PynamoDBException as exc:
            raise unavailable("executions") from exc
