"""The dead-letter queue people browse: entries from retry jobs and from SQS DLQs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.dead_letters import DeadLetter, derived_id
from chalicelib.domain.fingerprint import fingerprint
from chalicelib.domain.jobs import RetryJob
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.domain.webhooks import Delivery, Endpoint
from chalicelib.errors import Conflict, NotFound
from chalicelib.store.dead_letters import DeadLetterStore

RETENTION = timedelta(days=90)


class DeadLetterService:
    def __init__(
        self,
        store: DeadLetterStore,
        publish: Callable[[str, dict[str, Any]], Any],
        clock: Callable[[], datetime] = utcnow,
        metrics: Any = None,
        on_resolved: Callable[[str, str | None], Any] | None = None,
    ) -> None:
        self._metrics = metrics
        #: (retry job id, note) of an entry resolved by hand: its job is settled too
        self._on_resolved = on_resolved
        self._store = store
        self._publish = publish
        self._clock = clock

    def _put(self, entry_id: str, **fields: Any) -> DeadLetter:
        now = self._clock()
        error = fields["error"]
        record, new = self._store.put_once(
            DeadLetter(
                id=entry_id,
                status="open",
                created_at=to_iso(now),
                fingerprint=fingerprint(fields["service"], error.get("type", ""), error.get("message", "")),
                expires_at=int((now + RETENTION).timestamp()),
                **fields,
            )
        )
        if new:
            self._open_delta(1)
            self._publish(
                "error.dead_lettered",
                {
                    "dead_letter_id": record.id,
                    "source": record.source,
                    "service": record.service,
                    "retry_job_id": record.retry_job_id,
                    "fingerprint": record.fingerprint,
                    "error": record.error,
                },
            )
        return record

    def from_job(self, job: RetryJob, reason: str, last_error: dict[str, Any]) -> DeadLetter:
        """The entry for a job that gave up (its id mirrors the job's, so it is written once)."""
        return self._put(
            "dlq_" + job.id.removeprefix("rty_"),
            source="retry_job",
            service=job.service,
            error={**last_error, "reason": reason},
            payload={
                "target": job.target,
                "retry_policy": job.policy,
                "workflow_id": job.workflow_id,
                "execution_id": job.execution_id,
            },
            retry_job_id=job.id,
            attempts=job.attempt_count,
        )

    def from_delivery(
        self,
        delivery: Delivery,
        endpoint: Endpoint | None,
        error: dict[str, Any],
        webhook_id: str | None = None,
    ) -> DeadLetter:
        """The entry for a webhook delivery that gave up (id mirrors the delivery's); the
        endpoint is None when it was deleted meanwhile."""
        webhook_id = endpoint.id if endpoint is not None else webhook_id
        return self._put(
            "dlq_" + delivery.id.removeprefix("dlv_"),
            source="webhook",
            service=f"webhook:{webhook_id}",
            error={**error, "reason": "exhausted"},
            payload={
                "webhook_id": webhook_id,
                "url": endpoint.url if endpoint else None,
                "delivery_id": delivery.id,
                "event": json.loads(delivery.payload),
            },
            attempts=delivery.attempt_count,
        )

    def from_sqs(self, queue: str, message: dict[str, Any]) -> DeadLetter:
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
            derived_id(sent_ms, f"{queue}|{message['messageId']}"),
            source=f"sqs:{source_queue}",
            service=source_queue,
            error={
                "type": "MaxReceiveCountExceeded",
                "message": f"not processed after {receives} receives from {source_queue}",
            },
            payload={
                "queue": source_queue,
                "message_id": message["messageId"],
                "body": body,
                "message_attributes": message.get("messageAttributes") or {},
            },
            attempts=receives,
        )

    def require(self, entry_id: str) -> DeadLetter:
        record = self._store.get(entry_id) if entry_id.startswith("dlq_") else None
        if record is None:
            raise NotFound(f"No dead letter {entry_id}.")
        return record

    def list(
        self,
        status: str,
        fingerprint_: str | None,
        source: str | None,
        service: str | None,
        limit: int,
        before: str | None,
    ) -> tuple[list[DeadLetter], str | None]:
        return self._store.list(status, fingerprint_, source, service, limit, before)

    def resolve(self, entry_id: str, note: str | None) -> DeadLetter:
        record = self.require(entry_id)
        resolved = self._store.transition(record, "resolved", to_iso(self._clock()), note=note or "")
        if resolved is None:
            raise Conflict(f"Dead letter {entry_id} is {self.require(entry_id).status}, not open.")
        self._open_delta(-1)
        if record.retry_job_id and self._on_resolved is not None:
            self._on_resolved(record.retry_job_id, note)
        self._publish("error.resolved", {"dead_letter_id": entry_id, "note": note})
        return resolved

    def mark_replayed(self, record: DeadLetter, job_id: str) -> bool:
        done = (
            self._store.transition(record, "replayed", to_iso(self._clock()), replay_job_id=job_id)
            is not None
        )
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
        if (
            record is not None
            and self._store.transition(record, "resolved", to_iso(self._clock()), note=note or "") is not None
        ):
            self._open_delta(-1)
