"""Retry jobs. Workers claim an attempt with a conditional write and a lease, so a duplicate SQS
delivery never runs an attempt twice, and a crashed attempt is taken over once its lease ends."""

from __future__ import annotations

import dataclasses
import heapq
from datetime import timedelta
from itertools import islice
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError

from chalicelib.domain.jobs import STATUSES, TERMINAL, RetryJob
from chalicelib.domain.timeutil import epoch_of, parse_iso
from chalicelib.errors import Conflict
from chalicelib.store.base import bind
from chalicelib.store.common import Write, conditional_failure, page_of, transact, unavailable
from chalicelib.store.due import due_actions, due_fields, overdue, postpone
from chalicelib.store.mapping import entity_of, fields_of, stored_value
from chalicelib.store.models import AttemptRecord, RetryJobRecord

__all__ = ["TERMINAL", "RetryJobStore"]
#: how long an attempt's item outlives its job's deadline (TTL)
ATTEMPTS_KEPT = timedelta(days=60)


def _status_key(service: str, status: str) -> str:
    return f"{service}#{status}"


KIND = "retry_job"


def _due(job: RetryJob) -> int | None:
    """When a job's next step is due: its next attempt's time while scheduled, its lease's end
    while running; never once it has finished."""
    if job.status == "running" and job.lease_until is not None:
        return int(job.lease_until)
    if job.status == "scheduled" and job.next_attempt_at:
        return epoch_of(job.next_attempt_at)
    return None


def _job(record: RetryJobRecord) -> RetryJob:
    return entity_of(RetryJob, record)


class RetryJobStore:
    def __init__(self) -> None:
        self._model = bind(RetryJobRecord, "retry_jobs")
        self._attempts = bind(AttemptRecord, "attempts")

    def _record(self, job: RetryJob) -> RetryJobRecord:
        return self._model(
            **fields_of(job),
            created_sk=f"{job.created_at}#{job.id}",
            service_status=_status_key(job.service, job.status),
            **due_fields(KIND, job.id, _due(job)),
        )

    def create_write(self, job: RetryJob) -> Write:
        """A new job, as one write of a transaction, named "job"."""
        # Condition: a new id (ids carry 80 random bits: a clash is a bug, never overwritten).
        return Write(self._record(job), self._model.id.does_not_exist(), "job")

    def create(self, job: RetryJob) -> None:
        """A new job on its own (one PutItem, ``create_write``'s condition)."""
        write = self.create_write(job)
        try:
            write.record.save(condition=write.condition)
        except PutError as exc:
            if conditional_failure(exc):
                raise Conflict(f"Retry job {job.id} exists already.") from exc
            raise unavailable("retry jobs") from exc

    def get(self, job_id: str) -> RetryJob | None:
        try:
            return _job(self._model.get(job_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc

    def claim(
        self,
        job_id: str,
        attempt: int,
        now_epoch: int,
        lease_seconds: int,
        now_iso: str,
        service: str | None,
        token: str,
    ) -> RetryJob | None:
        """Take attempt ``attempt`` of the job for this worker; None if it is not ours to run.
        ``service``: the job's, as its message says (None: an older message; one more write).
        ``token``: this claim's, kept on the item (a retried claim recognises itself by it)."""
        m = self._model
        # Condition, either:
        #  (a) the job waits for exactly this attempt (the previous one is recorded), or
        #  (b) a worker claimed this attempt and its lease ran out (it crashed mid-attempt).
        fresh = (m.status == "scheduled") & (m.attempt_count == attempt - 1)
        abandoned = (m.status == "running") & (m.claimed_attempt == attempt) & (m.lease_until < now_epoch)
        record = m(job_id)
        actions = [
            m.status.set("running"),
            m.claimed_attempt.set(attempt),
            m.lease_until.set(now_epoch + lease_seconds),
            m.held.remove(),
            m.claim_token.set(token),
            m.updated_at.set(now_iso),
            *due_actions(m, KIND, job_id, now_epoch + lease_seconds),
        ]
        if service is not None:
            actions.append(m.service_status.set(_status_key(service, "running")))
        try:
            record.update(actions=actions, condition=fresh | abandoned)
        except UpdateError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("retry jobs") from exc
        if service is None:
            try:
                # Condition: still our claim (the claimed item names its service).
                record.update(
                    actions=[m.service_status.set(_status_key(record.service, "running"))],
                    condition=(m.status == "running") & (m.claimed_attempt == attempt),
                )
            except UpdateError as exc:
                if not conditional_failure(exc):
                    raise unavailable("retry jobs") from exc
        # the item as the claim left it (ALL_NEW): its attempts as recorded by now, never the
        # ones read before an earlier attempt finished
        return _job(record)

    def release(self, job: RetryJob, next_attempt_at: str, now_iso: str) -> None:
        """Give a claimed attempt back unrun (the breaker refused it): it is not used up."""
        m = self._model
        try:
            m(job.id).update(
                actions=[
                    m.status.set("scheduled"),
                    m.next_attempt_at.set(next_attempt_at),
                    m.service_status.set(_status_key(job.service, "scheduled")),
                    m.claimed_attempt.remove(),
                    m.lease_until.remove(),
                    m.held.set("breaker"),
                    m.updated_at.set(now_iso),
                    *due_actions(m, KIND, job.id, epoch_of(next_attempt_at)),
                ],
                # Condition: still our claim.
                condition=(m.status == "running") & (m.claimed_attempt == job.claimed_attempt),
            )
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("retry jobs") from exc

    def overdue(self, before: int, limit: int) -> list[tuple[RetryJob, Any]]:
        """Jobs whose next step was due before ``before`` (the by-due index), with a handle for
        ``postpone``."""
        return [(_job(r), (r, due)) for r, due in overdue(self._model, KIND, before, limit)]

    def postpone(self, handle: Any, new_due: int) -> bool:
        record, seen = handle
        return postpone(record, KIND, record.id, seen, new_due)

    def held_by_breaker(self, service: str, limit: int) -> list[RetryJob]:
        """The scheduled jobs of ``service`` whose next attempt waits for its breaker."""
        m = self._model
        try:
            return [
                _job(r)
                for r in islice(
                    m.by_service_status.query(
                        _status_key(service, "scheduled"), filter_condition=m.held == "breaker"
                    ),
                    limit,
                )
            ]
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc

    def finish_attempt(
        self, job: RetryJob, attempt: dict[str, Any], status: str, now_iso: str, **fields: Any
    ) -> bool:
        """Record a finished attempt (an item of its own) and the job's next status, if the
        claim still holds: one transaction.

        Returns False when the job was resolved by hand meanwhile: the attempt is then kept
        with its others and the resolution stands. A transaction whose answer was lost and whose
        retry found its own effect (the claim token still ours, the attempt counted) returns True.
        """
        m = self._model
        number = attempt["number"]
        actions = [
            m.attempt_count.set(number),
            m.status.set(status),
            m.service_status.set(_status_key(job.service, status)),
            m.claimed_attempt.remove(),
            m.lease_until.remove(),
            m.updated_at.set(now_iso),
        ]
        for name, value in fields.items():
            attribute = getattr(m, name)
            actions.append(attribute.remove() if value is None else attribute.set(stored_value(value)))
        next_at = fields.get("next_attempt_at")
        actions += due_actions(
            m, KIND, job.id, epoch_of(next_at) if status == "scheduled" and next_at else None
        )
        kept = self._attempt(job, attempt)
        # Condition: we still hold the claim on this attempt.
        claim = (m.status == "running") & (m.claimed_attempt == number)
        if transact([Write(m(job.id), claim, "job", actions=actions), kept], "retry jobs") is None:
            return True
        current = self.get(job.id)
        if (
            current is not None
            and job.claim_token is not None
            and current.claim_token == job.claim_token
            and current.attempt_count >= number
            and current.status != "running"
        ):
            return True  # our own write: its answer was lost, the SDK's retry met its effect
        if current is not None and current.status == "resolved":
            transact(
                [
                    Write(m(job.id), m.status == "resolved", "job", actions=[m.attempt_count.set(number)]),
                    kept,
                ],
                "retry jobs",
            )
        return False

    def _attempt(self, job: RetryJob, attempt: dict[str, Any]) -> Write:
        """An attempt's own item, kept 60 days past the job's deadline (a finished job is kept 30
        days after it ends, which is before that deadline or at it)."""
        created = parse_iso(job.created_at)
        keep = created + timedelta(seconds=job.retry_policy.deadline_seconds) + ATTEMPTS_KEPT
        return Write(
            self._attempts(
                owner=job.id, number=attempt["number"], attempt=attempt, expires_at=int(keep.timestamp())
            )
        )

    def attempts(
        self, job: RetryJob, after: int, limit: int | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A job's attempts numbered after ``after``, oldest first (one Query), with those a job
        written before attempts had items keeps in its own; the last number when more follow."""
        a = self._attempts
        try:
            found = [
                r.attempt
                for r in a.query(job.id, a.number > after, limit=None if limit is None else limit + 1)
            ]
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc
        numbers = {item["number"] for item in found}
        found += [item for item in job.attempts if item["number"] > after and item["number"] not in numbers]
        found.sort(key=lambda item: item["number"])
        if limit is None or len(found) <= limit:
            return found, None
        return found[:limit], found[limit - 1]["number"]

    def mark_dead_lettered(
        self, job: RetryJob, dead_letter_id: str, now_iso: str, expires_at: int
    ) -> RetryJob:
        m = self._model
        try:
            m(job.id).update(
                actions=[
                    m.status.set("dead_lettered"),
                    m.dead_letter_id.set(dead_letter_id),
                    m.service_status.set(_status_key(job.service, "dead_lettered")),
                    m.next_attempt_at.remove(),
                    m.finished_at.set(now_iso),
                    m.updated_at.set(now_iso),
                    m.expires_at.set(expires_at),
                    *due_actions(m, KIND, job.id, None),
                ]
            )
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc
        return dataclasses.replace(
            job,
            status="dead_lettered",
            dead_letter_id=dead_letter_id,
            next_attempt_at=None,
            finished_at=now_iso,
            updated_at=now_iso,
            expires_at=expires_at,
        )

    def resolve(self, job: RetryJob, note: str | None, now_iso: str, expires_at: int) -> RetryJob | None:
        """Resolve by hand; None if it had already finished (succeeded or resolved)."""
        m = self._model
        try:
            # Condition: not finished yet (a dead-lettered job may still be resolved).
            m(job.id).update(
                actions=[
                    m.status.set("resolved"),
                    m.note.set(note or ""),
                    m.service_status.set(_status_key(job.service, "resolved")),
                    m.finished_at.set(now_iso),
                    m.updated_at.set(now_iso),
                    m.expires_at.set(expires_at),
                    *due_actions(m, KIND, job.id, None),
                ],
                condition=m.status.is_in("scheduled", "running", "dead_lettered"),
            )
        except UpdateError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("retry jobs") from exc
        return dataclasses.replace(
            job,
            status="resolved",
            note=note or "",
            finished_at=now_iso,
            updated_at=now_iso,
            expires_at=expires_at,
        )

    def list(
        self, status: str | None, service: str | None, limit: int, before: str | None
    ) -> tuple[list[RetryJob], str | None]:
        """Newest first: by service and status, by service, by status, or every status (one
        Query per status, merged): the cost follows the page, not the stored jobs."""
        m = self._model
        condition = m.created_sk < before if before else None
        if service is not None and status is not None:
            query = m.by_service_status.query(
                _status_key(service, status), condition, scan_index_forward=False, page_size=limit + 1
            )
        elif service is not None:
            query = m.by_service.query(service, condition, scan_index_forward=False, page_size=limit + 1)
        elif status is not None:
            query = m.by_status.query(status, condition, scan_index_forward=False, page_size=limit + 1)
        else:  # every status: the newest limit + 1 of each partition, merged newest first
            query = heapq.merge(
                *(
                    islice(
                        m.by_status.query(each, condition, scan_index_forward=False, page_size=limit + 1),
                        limit + 1,
                    )
                    for each in STATUSES
                ),
                key=lambda r: r.created_sk,
                reverse=True,
            )
        try:
            records, last = page_of(query, limit)
        except PynamoDBException as exc:
            raise unavailable("retry jobs") from exc
        return [_job(r) for r in records], last
