"""The dead-letter queue people browse: entries from retry jobs and from SQS DLQs."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.fingerprint import fingerprint
from chalicelib.domain.headers import masked_target
from chalicelib.domain.ids import RANDOM_CHARS, TIME_CHARS, encode
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import Conflict, NotFound
from chalicelib.store.dead_letters import DeadLetterStore
from chalicelib.store.models import DeadLetterRecord, RetryJobRecord

RETENTION = timedelta(days=90)


def _derived_id(ms: int, seed: str) -> str:
    """A ``dlq_`` id whose time is ``ms`` and whose random part comes from ``seed``: the same
    source always yields the same entry, so a redelivered source is recorded once."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10], "big")
    return f"dlq_{encode(ms, TIME_CHARS)}{encode(digest, RANDOM_CHARS)}"


def _shown(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The payload as people see it: a retry job's target headers masked (replay uses the
    stored ones)."""
    if not payload or not isinstance(payload.get("target"), dict):
        return payload
    return {**payload, "target": masked_target(payload["target"])}


def to_dict(record: DeadLetterRecord) -> dict[str, Any]:
    return {
        "id": record.id, "status": record.status, "source": record.source,
        "service": record.service, "fingerprint": record.fingerprint, "error": record.error,
        "payload": _shown(record.payload), "attempts": int(record.attempts or 0),
        "retry_job_id": record.retry_job_id, "replay_job_id": record.replay_job_id,
        "note": record.note, "created_at": record.created_at, "resolved_at": record.resolved_at,
    }


class DeadLetterService:
    def __init__(self, store: DeadLetterStore, publish: Callable[[str, dict[str, Any]], Any],
                 clock: Callable[[], datetime] = utcnow, metrics: Any = None,
                 on_resolved: Callable[[str, str | None], Any] | None = None) -> None:
        self._metrics = metrics
        #: (retry job id, note) of an entry resolved by hand: its job is settled too
        self._on_resolved = on_resolved
        self._store = store
        self._publish = publish
        self._clock = clock

    def _put(self, entry_id: str, **fields: Any) -> DeadLetterRecord:
        now = self._clock()
        created_at = to_iso(now)
        error = fields["error"]
        record, new = self._store.put_once(
            id=entry_id, status="open", created_at=created_at, created_sk=f"{created_at}#{entry_id}",
            fingerprint=fingerprint(fields["service"], error.get("type", ""),
                                    error.get("message", "")),
            expires_at=int((now + RETENTION).timestamp()), **fields)
        if new:
            self._open_delta(1)
            self._publish("error.dead_lettered", {
                "dead_letter_id": record.id, "source": record.source, "service": record.service,
                "retry_job_id": record.retry_job_id, "fingerprint": record.fingerprint,
                "error": record.error})
        return record

    def from_job(self, job: RetryJobRecord, reason: str, last_error: dict[str, Any]) -> DeadLetterRecord:
        """The entry for a job that gave up (its id mirrors the job's, so it is written once)."""
        return self._put(
            "dlq_" + job.id.removeprefix("rty_"), source="retry_job", service=job.service,
            error={**last_error, "reason": reason},
            payload={"target": job.target, "retry_policy": job.policy,
                     "workflow_id": job.workflow_id, "execution_id": job.execution_id},
            retry_job_id=job.id, attempts=int(job.attempt_count or 0))

    def from_delivery(self, delivery: Any, endpoint: Any, error: dict[str, Any],
                      webhook_id: str | None = None) -> DeadLetterRecord:
        """The entry for a webhook delivery that gave up (id mirrors the delivery's); the
        endpoint is None when it was deleted meanwhile."""
        webhook_id = endpoint.id if endpoint is not None else webhook_id
        return self._put(
            "dlq_" + delivery.id.removeprefix("dlv_"), source="webhook",
            service=f"webhook:{webhook_id}", error={**error, "reason": "exhausted"},
            payload={"webhook_id": webhook_id, "url": endpoint.url if endpoint else None,
                     "delivery_id": delivery.id, "event": json.loads(delivery.payload)},
            attempts=int(delivery.attempt_count or 0))

    def from_sqs(self, queue: str, message: dict[str, Any]) -> DeadLetterRecord:
        """Record a message an SQS DLQ received, keyed by its message id."""
        attributes = message.get("attributes") or {}
        sent_ms = int(attributes.get("SentTimestamp") or self._clock().timestamp() * 1000)
        try:
            body: Any = json.loads(message.get("body") or "")
        except ValueError:
            body = message.get("body")
        receives = int(attributes.get("ApproximateReceiveCount") or 0)
        source_queue = queue.removesuffix("-dlq")
        return self._put(
            _derived_id(sent_ms, f"{queue}|{message['messageId']}"), source=f"sqs:{source_queue}",
            service=source_queue,
            error={"type": "MaxReceiveCountExceeded",
                   "message": f"not processed after {receives} receives from {source_queue}"},
            payload={"queue": source_queue, "message_id": message["messageId"], "body": body,
                     "message_attributes": message.get("messageAttributes") or {}},
            attempts=receives)

    def get(self, entry_id: str) -> dict[str, Any]:
        return to_dict(self.require(entry_id))

    def require(self, entry_id: str) -> DeadLetterRecord:
        record = self._store.get(entry_id) if entry_id.startswith("dlq_") else None
        if record is None:
            raise NotFound(f"No dead letter {entry_id}.")
        return record

    def list(self, status: str, fingerprint_: str | None, source: str | None, service: str | None,
             limit: int, before: str | None) -> tuple[list[dict[str, Any]], str | None]:
        records, last = self._store.list(status, fingerprint_, source, service, limit, before)
        return [to_dict(r) for r in records], last

    def resolve(self, entry_id: str, note: str | None) -> dict[str, Any]:
        record = self.require(entry_id)
        if not self._store.transition(record, "resolved", to_iso(self._clock()), note=note or ""):
            raise Conflict(f"Dead letter {entry_id} is {self.require(entry_id).status}, not open.")
        self._open_delta(-1)
        if record.retry_job_id and self._on_resolved is not None:
            self._on_resolved(record.retry_job_id, note)
        self._publish("error.resolved", {"dead_letter_id": entry_id, "note": note})
        return to_dict(record)

    def mark_replayed(self, record: DeadLetterRecord, job_id: str) -> bool:
        done = self._store.transition(record, "replayed", to_iso(self._clock()),
                                      replay_job_id=job_id)
        if done:
            self._open_delta(-1)
        return done

    def _open_delta(self, delta: int) -> None:
        """The dashboard's DLQ size: a gauge moved with each entry that opens or closes."""
        if self._metrics is not None:
            self._metrics.gauge("dead_letters_open", delta)

    def resolve_for_job(self, entry_id: str, note: str | None) -> None:
        """A dead-lettered job resolved by hand takes its entry with it (if still open)."""
        record = self._store.get(entry_id)
        if record is not None and self._store.transition(record, "resolved",
                                                         to_iso(self._clock()), note=note or ""):
            self._open_delta(-1)
