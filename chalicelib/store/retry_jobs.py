"""Retry jobs. Workers claim an attempt with a conditional write and a lease, so a duplicate SQS
delivery never runs an attempt twice, and a crashed attempt is taken over once its lease ends."""
from __future__ import annotations

import heapq
from itertools import islice
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError

from chalicelib.errors import Conflict
from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure, page_of, unavailable
from chalicelib.store.models import RetryJobRecord

TERMINAL = ("succeeded", "dead_lettered", "resolved")
STATUSES = ("scheduled", "running", *TERMINAL)


class RetryJobStore:
    def __init__(self) -> None:
        self._model = bind(RetryJobRecord, "retry_jobs")

    def new(self, **fields: Any) -> RetryJobRecord:
        return self._model(**fields)

    def create(self, record: RetryJobRecord) -> None:
        try:
            # Condition: a new id (ids carry 80 random bits: a clash is a bug, never overwritten).
            record.save(condition=self._model.id.does_not_exist())
        except PutError as exc:
            if conditional_failure(exc):
                raise Conflict(f"Retry job {record.id} exists already.") from exc
            raise unavailable("retry jobs") from exc

    def delete(self, job_id: str) -> None:
        try:
            self._model(id=job_id).delete()
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc

    def get(self, job_id: str) -> RetryJobRecord | None:
        try:
            return self._model.get(job_id, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc

    def claim(self, record: RetryJobRecord, attempt: int, now_epoch: int, lease_seconds: int,
              now_iso: str) -> bool:
        """Take attempt ``attempt`` of the job for this worker; False if it is not ours to run."""
        m = self._model
        # Condition, either:
        #  (a) the job waits for exactly this attempt (the previous one is recorded), or
        #  (b) a worker claimed this attempt and its lease ran out (it crashed mid-attempt).
        fresh = (m.status == "scheduled") & (m.attempt_count == attempt - 1)
        abandoned = ((m.status == "running") & (m.claimed_attempt == attempt)
                     & (m.lease_until < now_epoch))
        try:
            record.update(actions=[m.status.set("running"), m.claimed_attempt.set(attempt),
                                   m.lease_until.set(now_epoch + lease_seconds),
                                   m.held.remove(), m.updated_at.set(now_iso)],
                          condition=fresh | abandoned)
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("retry jobs") from exc
        return True

    def release(self, record: RetryJobRecord, next_attempt_at: str, now_iso: str) -> None:
        """Give a claimed attempt back unrun (the breaker refused it): it is not used up."""
        m = self._model
        try:
            record.update(actions=[m.status.set("scheduled"), m.next_attempt_at.set(next_attempt_at),
                                   m.claimed_attempt.remove(), m.lease_until.remove(),
                                   m.held.set("breaker"), m.updated_at.set(now_iso)],
                          condition=(m.status == "running") & (m.claimed_attempt == record.claimed_attempt))
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("retry jobs") from exc

    def held_by_breaker(self, service: str, limit: int) -> list[RetryJobRecord]:
        """The scheduled jobs of ``service`` whose next attempt waits for its breaker."""
        m = self._model
        try:
            return list(islice(m.by_service.query(
                service, filter_condition=(m.status == "scheduled") & (m.held == "breaker")),
                limit))
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc

    def finish_attempt(self, record: RetryJobRecord, attempt: dict[str, Any], status: str,
                       now_iso: str, **fields: Any) -> bool:
        """Record a finished attempt and the job's next status, if the claim still holds.

        Returns False when the job was resolved by hand meanwhile: the attempt is then appended
        to its history and the resolution stands.
        """
        m = self._model
        attempts = [*(record.attempts or []), attempt]
        actions = [m.attempts.set(attempts), m.attempt_count.set(attempt["number"]),
                   m.status.set(status), m.claimed_attempt.remove(), m.lease_until.remove(),
                   m.updated_at.set(now_iso)]
        for name, value in fields.items():
            attribute = getattr(m, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        try:
            # Condition: we still hold the claim on this attempt.
            record.update(actions=actions, condition=(m.status == "running")
                          & (m.claimed_attempt == attempt["number"]))
            return True
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("retry jobs") from exc
        current = self.get(record.id)
        if current is not None and current.status == "resolved":
            try:
                current.update(actions=[m.attempts.set([*(current.attempts or []), attempt]),
                                        m.attempt_count.set(attempt["number"])])
            except PynamoDBException as exc:
                raise unavailable("retry jobs") from exc
        return False

    def mark_dead_lettered(self, record: RetryJobRecord, dead_letter_id: str, now_iso: str,
                           expires_at: int) -> None:
        m = self._model
        try:
            record.update(actions=[m.status.set("dead_lettered"), m.dead_letter_id.set(dead_letter_id),
                                   m.next_attempt_at.remove(), m.finished_at.set(now_iso),
                                   m.updated_at.set(now_iso), m.expires_at.set(expires_at)])
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc

    def resolve(self, record: RetryJobRecord, note: str | None, now_iso: str,
                expires_at: int) -> bool:
        """Resolve by hand; False if it had already finished (succeeded or resolved)."""
        m = self._model
        try:
            # Condition: not finished yet (a dead-lettered job may still be resolved).
            record.update(actions=[m.status.set("resolved"), m.note.set(note or ""),
                                   m.finished_at.set(now_iso), m.updated_at.set(now_iso),
                                   m.expires_at.set(expires_at)],
                          condition=m.status.is_in("scheduled", "running", "dead_lettered"))
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("retry jobs") from exc
        return True

    def list(self, status: str | None, service: str | None, limit: int,
             before: str | None) -> tuple[list[RetryJobRecord], str | None]:
        """Newest first: by service (status as a filter), by status, or every status (one Query
        per status, merged: the cost follows the page, not the stored jobs)."""
        m = self._model
        condition = m.created_sk < before if before else None
        if service is not None:
            query = m.by_service.query(
                service, condition, scan_index_forward=False, page_size=limit + 1,
                filter_condition=(m.status == status) if status else None)
        elif status is not None:
            query = m.by_status.query(status, condition, scan_index_forward=False,
                                      page_size=limit + 1)
        else:  # every status: the newest limit + 1 of each partition, merged newest first
            query = heapq.merge(*(
                islice(m.by_status.query(each, condition, scan_index_forward=False,
                                         page_size=limit + 1), limit + 1)
                for each in STATUSES), key=lambda r: r.created_sk, reverse=True)
        try:
            return page_of(query, limit)
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc
