"""The reconciler: finds work whose next step is overdue and puts it back on its way.

Every retry job, webhook delivery and schedule run that still has a step to take is in its
table's sparse ``by-due`` index at the time that step should have happened (``store/due.py``):
its next attempt's time, or the end of the lease of the attempt running now. Its message is sent
as its state is written; if that message is lost (a send that failed after the write, a crash in
between, a claim's answer lost and the message deleted), or its worker died holding the lease,
the item stays in the index past its time. The minute tick reads what is overdue by more than a
grace period — one Query per shard, bounded per invocation, the most overdue first — and for
each: moves its due time on by the grace period (one conditional write: two reconcilers never
repair the same item twice in one round, and the next round continues with the rest), then sends
the message of the step it waits for. The attempt engine's claims decide from there, so a repair
of work that was only slow is a duplicate message, dropped as any duplicate is.

Each repair is logged, counted (metric ``reconciler``, by kind) and published as
``system.work_recovered``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.messages import DeliveryAttempt, Message, RetryAttempt, ScheduledRun
from chalicelib.domain.timeutil import to_iso, utcnow

log = logging.getLogger("conductor.reconciler")
#: how late a step may be before it is taken for lost: past SQS's own redelivery of a failed
#: batch (the queues' visibility timeouts are 180-360 s, a lease 120 s) it would only race it
GRACE_SECONDS = 120
#: repairs per kind and invocation (the rest wait for the next tick: they are still overdue)
LIMIT = 200
METRIC = "reconciler"


@dataclass(frozen=True)
class Repair:
    """One overdue item and the message that puts it back on its way."""

    kind: str
    id: str
    status: str
    attempt: int
    message: Message | None  # None: the kind sends the entity itself (an event)


def retry_job_repair(job: Any, now: datetime) -> Repair:
    """A scheduled job's next attempt, or a running one's attempt taken over (lease gone)."""
    attempt = (
        (job.claimed_attempt or job.attempt_count + 1) if job.status == "running" else job.attempt_count + 1
    )
    return Repair(
        "retry_job", job.id, job.status, attempt, RetryAttempt(job.id, attempt, now, service=job.service)
    )


def delivery_repair(delivery: Any, now: datetime) -> Repair:
    """A claimed delivery's attempt (its lease ran out), or its next one."""
    attempt = delivery.attempt_count if delivery.lease_until is not None else delivery.attempt_count + 1
    return Repair(
        "delivery",
        delivery.id,
        delivery.status,
        attempt,
        DeliveryAttempt(delivery.id, attempt, now, delivery.webhook_id),
    )


def event_repair(event: Any, now: datetime) -> Repair:
    """An event in the timeline that never reached the fan-out: queued again (as itself)."""
    return Repair("event", event.id, "published", 1, None)


def run_repair(execution: Any, now: datetime) -> Repair:
    """A run that never started, or whose worker died while running it."""
    return Repair(
        "run", execution.id, execution.status, 1, ScheduledRun(execution.schedule_id, execution.sort_key)
    )


@dataclass(frozen=True)
class Kind:
    """One kind of durable work: where its overdue items are, how each is repaired, and the
    queue its messages go to."""

    name: str
    store: Any  # overdue(before, limit) -> [(entity, handle)]; postpone(handle, due) -> bool
    repair: Callable[[Any, datetime], Repair]
    queue: Any  # store.queues.Queue (None: ``send`` sends the entities themselves)
    send: Callable[[list[Any]], None] | None = None


class Reconciler:
    def __init__(
        self,
        kinds: list[Kind],
        publish: Callable[[str, dict[str, Any]], Any],
        metrics: Any = None,
        clock: Callable[[], datetime] = utcnow,
        grace_seconds: int = GRACE_SECONDS,
        limit: int = LIMIT,
    ) -> None:
        self._kinds = kinds
        self._publish = publish
        self._metrics = metrics
        self._clock = clock
        self.grace = grace_seconds
        self._limit = limit

    def run(self) -> dict[str, int]:
        """One round: repairs per kind (cost: one Query per shard and kind, then one write per
        repair and one SendMessageBatch per 10)."""
        now = self._clock()
        before = int(now.timestamp()) - self.grace
        later = int(now.timestamp()) + self.grace
        repaired: dict[str, int] = {}
        for kind in self._kinds:
            messages, entities = [], []
            for entity, handle in kind.store.overdue(before, self._limit):
                if not kind.store.postpone(handle, later):
                    continue  # moved on meanwhile (its worker got to it, or another round)
                repair = kind.repair(entity, now)
                messages.append(repair.message)
                entities.append(entity)
                self._report(repair, handle[1], now)
            if entities and kind.send is not None:
                kind.send(entities)
            elif entities:
                kind.queue.send_many(messages, run_at=now, now=now)
            repaired[kind.name] = len(entities)
        return repaired

    def _report(self, repair: Repair, due_at: int, now: datetime) -> None:
        overdue = round(now.timestamp() - due_at, 3)
        log.warning(
            "recovered %s %s (%s, attempt %d): its next step was %.0f s overdue",
            repair.kind,
            repair.id,
            repair.status,
            repair.attempt,
            overdue,
        )
        if self._metrics is not None:
            self._metrics.count(METRIC, repair.kind, {"recovered": 1})
        due = datetime.fromtimestamp(due_at, tz=now.tzinfo)
        self._publish(
            "system.work_recovered",
            {
                "kind": repair.kind,
                "id": repair.id,
                "status": repair.status,
                "attempt": repair.attempt,
                "due_at": to_iso(due),
                "overdue_seconds": overdue,
            },
        )
