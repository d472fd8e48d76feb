"""Index keys for items written before their index existed (run once after an upgrade).

A new index or filtered list only sees items written with its key; an item written before has
none and is missing from that list (still readable by id). ``backfill`` scans each table once
and adds what is missing: ``events.month``, ``deliveries.webhook_status`` and ``type_status``,
``retry-jobs.service_status``, ``executions.live_sk``, the ``lists`` pointers of dead letters
and schedules, each pattern's subscriber set (then marked complete), and a schedule's expression
in words (``expression_words``, which the console shows). It is an admin step
(``make backfill STAGE=...``), the one place a Scan is right: every write is idempotent (the
same key, the same pointer), so running it twice, or while Conductor runs, does no harm. Never
on a request or tick path.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from chalicelib.domain.schedule import ExpressionError, describe
from chalicelib.store.base import bind
from chalicelib.store.dead_letters import _entry
from chalicelib.store.dead_letters import _lists as dead_letter_lists
from chalicelib.store.models import (
    DeadLetterRecord,
    DeliveryRecord,
    EventRecord,
    ExecutionRecord,
    ListRecord,
    RetryJobRecord,
    ScheduleRecord,
    SubscriptionRecord,
)
from chalicelib.store.pattern_sets import mark_ready, update_sets_of
from chalicelib.store.schedules import _lists as schedule_lists
from chalicelib.store.schedules import _live_key, _schedule


def backfill(now: datetime | None = None) -> Counter[str]:
    """Add the missing index keys and list pointers; answers how many of each were added.

    ``now`` is when a run found running gets its lease ended (the services' clock in tests; the
    wall clock otherwise)."""
    added: Counter[str] = Counter()
    events = bind(EventRecord, "events")
    for record in events.scan(filter_condition=events.month.does_not_exist()):
        record.update(actions=[events.month.set(record.timestamp[:7])])
        added["events.month"] += 1
    deliveries = bind(DeliveryRecord, "deliveries")
    for record in deliveries.scan(
        filter_condition=deliveries.webhook_status.does_not_exist() | deliveries.type_status.does_not_exist()
    ):
        record.update(
            actions=[
                deliveries.webhook_status.set(f"{record.webhook_id}#{record.status}"),
                deliveries.type_status.set(f"{record.webhook_id}#{record.event_type}#{record.status}"),
            ]
        )
        added["deliveries.webhook_status"] += 1
    jobs = bind(RetryJobRecord, "retry_jobs")
    for record in jobs.scan(filter_condition=jobs.service_status.does_not_exist()):
        record.update(actions=[jobs.service_status.set(f"{record.service}#{record.status}")])
        added["retry_jobs.service_status"] += 1
    runs = bind(ExecutionRecord, "executions")
    for record in runs.scan(filter_condition=runs.live_sk.does_not_exist()):
        record.update(actions=[runs.live_sk.set(_live_key(record.expires_at, record.sort_key))])
        added["executions.live_sk"] += 1
    subscriptions = bind(SubscriptionRecord, "subscriptions")
    sets: dict[str, set[str]] = {}
    for record in subscriptions.scan():  # each pattern's set, from its subscriber items
        if record.subscriber.startswith(("whk#", "con#")):
            sets.setdefault(record.pattern, set()).add(record.subscriber)
    for pattern, members in sets.items():
        update_sets_of(subscriptions, pattern, members)
        added["subscriptions.sets"] += 1
    mark_ready(subscriptions)
    added["schedules.expression_words"] += _schedule_words()
    added.update(_due_work(now))
    pointers = bind(ListRecord, "lists")
    with pointers.batch_write() as batch:  # puts of the same pointer are idempotent
        for dead in bind(DeadLetterRecord, "dead_letters").scan():
            entry = _entry(dead)
            for key in dead_letter_lists(entry, entry.status):
                batch.save(
                    pointers(list=key, position=dead.created_sk, id=entry.id, expires_at=entry.expires_at)
                )
                added["lists.dead_letters"] += 1
        for record in bind(ScheduleRecord, "schedules").scan():
            for key in schedule_lists(_schedule(record)):
                batch.save(pointers(list=key, position=record.created_sk, id=record.id))
                added["lists.schedules"] += 1
    return added


def _due_work(now: datetime | None) -> Counter[str]:
    """Work in flight from before the ``by-due`` index: each gets its due time, so the
    reconciler watches it too (a run that was running gets a lease ending now: if it is still
    running after the grace period, its worker is taken for gone)."""
    from chalicelib.domain.timeutil import epoch_of, utcnow  # noqa: PLC0415
    from chalicelib.store import retry_jobs, webhooks  # noqa: PLC0415
    from chalicelib.store.due import due_actions  # noqa: PLC0415
    from chalicelib.store.schedules import KIND as RUN  # noqa: PLC0415

    added: Counter[str] = Counter()
    lease_end = int((now or utcnow()).timestamp())
    jobs, deliveries = bind(RetryJobRecord, "retry_jobs"), bind(DeliveryRecord, "deliveries")
    # each store's own rule for when its item is due (the store modules' private helpers)
    for name, model, store, entity, in_flight in (
        ("retry_jobs", jobs, retry_jobs, retry_jobs._job, jobs.status.is_in("scheduled", "running")),
        ("deliveries", deliveries, webhooks, webhooks._delivery, deliveries.status == "pending"),
    ):
        for record in model.scan(filter_condition=model.due_at.does_not_exist() & in_flight):
            due = store._due(entity(record))
            if due is not None:
                record.update(actions=due_actions(model, store.KIND, record.id, due))
                added[f"{name}.due_at"] += 1
    runs = bind(ExecutionRecord, "executions")
    for record in runs.scan(
        filter_condition=runs.due_at.does_not_exist() & runs.status.is_in("pending", "running")
    ):
        due = epoch_of(record.scheduled_for) if record.status == "pending" else lease_end
        extra = [runs.lease_until.set(lease_end)] if record.status == "running" else []
        record.update(actions=[*due_actions(runs, RUN, record.id, due), *extra])
        added["executions.due_at"] += 1
    return added


def _schedule_words() -> int:
    """A schedule written before ``expression_words`` existed gets its expression in words."""
    schedules, added = bind(ScheduleRecord, "schedules"), 0
    for record in schedules.scan(filter_condition=schedules.expression_words.does_not_exist()):
        try:
            words = describe(record.expression)
        except ExpressionError:  # a stored expression this version no longer reads: left as is
            continue
        record.update(actions=[schedules.expression_words.set(words)])
        added += 1
    return added
