"""The messages Conductor's own queues carry: one type per queue, built and read only here.

The JSON of each is what the queue has always carried (field for field), so messages in flight
during a deploy are read by the new code. A body that is not one of them is ``MalformedMessage``:
the handler drops it with a log line (it would fail the same way on every delivery).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from chalicelib.domain.timeutil import parse_iso, to_iso


class MalformedMessage(ValueError):
    """A body that is none of our messages (bad JSON, a missing or mistyped field)."""


@dataclass(frozen=True)
class RetryAttempt:
    """``retries``: run attempt ``attempt`` of a retry job, not before ``run_at``.
    ``missing_checks``: how often the job was looked for and not found yet (a write still
    on its way). ``service``: the job's, so the claim keeps its service-and-status index key
    (None in messages sent before it was carried: the claim then sets that key after)."""

    job_id: str
    attempt: int
    run_at: datetime
    missing_checks: int = 0
    service: str | None = None

    def again(self, attempt: int, run_at: datetime, missing_checks: int = 0) -> RetryAttempt:
        """The same job's attempt ``attempt`` at ``run_at``."""
        return dataclasses.replace(self, attempt=attempt, run_at=run_at, missing_checks=missing_checks)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"job_id": self.job_id, "attempt": self.attempt, "run_at": to_iso(self.run_at)}
        if self.missing_checks:
            body["missing_checks"] = self.missing_checks
        if self.service is not None:
            body["service"] = self.service
        return body

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> RetryAttempt:
        service = raw.get("service")
        return cls(
            str(raw["job_id"]),
            int(raw["attempt"]),
            parse_iso(raw["run_at"]),
            int(raw.get("missing_checks", 0)),
            str(service) if service is not None else None,
        )


@dataclass(frozen=True)
class DeliveryAttempt:
    """``webhook-deliveries``: attempt ``attempt`` of a delivery, not before ``run_at``.
    ``webhook_id``: the delivery's endpoint, so a batch reads its endpoints in one call (None in
    messages sent before it was carried: the endpoint is then read by the delivery's own)."""

    delivery_id: str
    attempt: int
    run_at: datetime
    webhook_id: str | None = None

    def again(self, attempt: int, run_at: datetime) -> DeliveryAttempt:
        """The same delivery's attempt ``attempt`` at ``run_at``."""
        return dataclasses.replace(self, attempt=attempt, run_at=run_at)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "delivery_id": self.delivery_id,
            "attempt": self.attempt,
            "run_at": to_iso(self.run_at),
        }
        if self.webhook_id is not None:
            body["webhook_id"] = self.webhook_id
        return body

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> DeliveryAttempt:
        webhook_id = raw.get("webhook_id")
        return cls(
            str(raw["delivery_id"]),
            int(raw["attempt"]),
            parse_iso(raw["run_at"]),
            str(webhook_id) if webhook_id is not None else None,
        )


@dataclass(frozen=True)
class ScheduledRun:
    """``executions``: run the execution ``sort_key`` of a schedule (claimed before it was sent).

    ``run_at``: when the run is to start (its time plus its jitter or flexible-window offset):
    the dispatcher sends runs up to a minute ahead with an SQS delay, and a run that arrives early
    (a delay past SQS's 15 minutes, a repair) hops on until then. Absent: due when it arrives.
    """

    schedule_id: str
    sort_key: str
    run_at: datetime | None = None
    #: a run is one attempt (its retries are a retry job's attempts)
    attempt: ClassVar[int] = 1

    def again(self, attempt: int, run_at: datetime) -> ScheduledRun:
        return dataclasses.replace(self, run_at=run_at)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schedule_id": self.schedule_id, "sort_key": self.sort_key}
        if self.run_at is not None:
            body["run_at"] = to_iso(self.run_at)
        return body

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ScheduledRun:
        run_at = raw.get("run_at")
        return cls(str(raw["schedule_id"]), str(raw["sort_key"]), parse_iso(run_at) if run_at else None)


@dataclass(frozen=True)
class DueSchedules:
    """``dispatch``: schedules the tick found due, for a dispatch worker to fire.

    ``due``: (schedule id, the ``next_run_at`` the tick read) pairs; a worker fires a schedule
    only while its next run is still that one. ``token``: made by the tick for this message, the
    same on every redelivery: the runs it claimed carry it, so a worker that finds its own claim
    (a lost answer, a crash before the send) sends the run, and never another tick's.
    ``shard``/``after``: the rest of a shard's due schedules past one page, found by the worker
    (a tick never runs out of time walking a herd).
    """

    token: str
    due: tuple[tuple[str, str], ...] = ()
    shard: str | None = None
    after: str | None = None  # the page's last key, as JSON
    until: str | None = None  # the tick's horizon (ISO): what is due up to it
    attempt: ClassVar[int] = 1
    run_at: ClassVar[datetime | None] = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"token": self.token, "due": [list(d) for d in self.due]}
        if self.shard is not None:
            body.update(shard=self.shard, after=self.after, until=self.until)
        return body

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> DueSchedules:
        due = tuple((str(i), str(n)) for i, n in raw.get("due", []))
        shard = raw.get("shard")
        return cls(
            str(raw["token"]), due, None if shard is None else str(shard), raw.get("after"), raw.get("until")
        )


Message = RetryAttempt | DeliveryAttempt | ScheduledRun | DueSchedules


def encode(message: Message) -> str:
    return json.dumps(message.body())


def decode[M: (RetryAttempt, DeliveryAttempt, ScheduledRun, DueSchedules)](kind: type[M], body: str) -> M:
    try:
        raw = json.loads(body)
        if not isinstance(raw, dict):
            raise TypeError("not an object")
        return kind.parse(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedMessage(f"not a {kind.__name__}: {str(body)[:200]}") from exc
