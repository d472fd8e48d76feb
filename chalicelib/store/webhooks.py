"""Webhook endpoints, their pattern subscriptions, and deliveries: records in, entities out."""

from __future__ import annotations

import heapq
from itertools import islice
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, UpdateError

from chalicelib.domain.timeutil import epoch_of
from chalicelib.domain.webhooks import Delivery, Endpoint
from chalicelib.errors import Conflict, NotFound
from chalicelib.store.base import bind
from chalicelib.store.common import (
    Write,
    conditional_failure,
    page_of,
    save_once,
    transact_all,
    unavailable,
)
from chalicelib.store.due import due_actions, due_fields, overdue, postpone
from chalicelib.store.mapping import entity_of, fields_of, stored_value
from chalicelib.store.models import DeliveryRecord, SubscriptionRecord, WebhookRecord
from chalicelib.store.pattern_sets import update_sets

WEBHOOK_PREFIX = "whk#"


def endpoint_of(record: WebhookRecord) -> Endpoint:
    """An endpoint from its item (also for the fan-out's read of endpoints with connections)."""
    return entity_of(Endpoint, record)


def _delivery(record: DeliveryRecord) -> Delivery:
    return entity_of(Delivery, record)


#: every status a delivery can be in (``Delivery.status``)
DELIVERY_STATUSES = ("pending", "delivered", "failed", "skipped")


KIND = "delivery"


def _due(delivery: Delivery) -> int | None:
    """When a pending delivery's next attempt is due (its message is sent as it is written);
    a finished or skipped one has no step to take."""
    if delivery.status != "pending":
        return None
    if delivery.lease_until is not None:
        return int(delivery.lease_until)
    return epoch_of(delivery.next_attempt_at or delivery.created_at)


def _status_key(webhook_id: str, status: str) -> str:
    return f"{webhook_id}#{status}"


def _type_key(delivery: Delivery, status: str) -> str:
    return f"{delivery.webhook_id}#{delivery.event_type}#{status}"


#: a TransactWriteItems holds 100 items and 4 MB in all
TRANSACTION_ITEMS, TRANSACTION_BYTES = 100, 3_500_000


def _chunks(deliveries: list[Delivery]) -> list[list[Delivery]]:
    chunks: list[list[Delivery]] = [[]]
    size = 0
    for delivery in deliveries:
        weight = len(delivery.payload) + 1024  # the payload and the other fields
        if chunks[-1] and (len(chunks[-1]) == TRANSACTION_ITEMS or size + weight > TRANSACTION_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(delivery)
        size += weight
    return [chunk for chunk in chunks if chunk]


class WebhookStore:
    def __init__(self) -> None:
        self._model = bind(WebhookRecord, "webhooks")
        self._subscriptions = bind(SubscriptionRecord, "subscriptions")

    def get(self, webhook_id: str) -> Endpoint | None:
        try:
            return endpoint_of(self._model.get(webhook_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("webhooks") from exc

    def save(self, endpoint: Endpoint, expected_version: int | None, old_patterns: list[str]) -> None:
        """Create (``expected_version`` None) or replace at a version, and make the pattern
        index agree with the endpoint's event types."""
        m = self._model
        record = m(**fields_of(endpoint), created_sk=f"{endpoint.created_at}#{endpoint.id}")
        condition = m.id.does_not_exist() if expected_version is None else (m.version == expected_version)
        try:
            record.save(condition=condition)
        except PutError as exc:
            if conditional_failure(exc):
                raise Conflict("The webhook changed since you read it.") from exc
            raise unavailable("webhooks") from exc
        self._index(record.id, old_patterns, list(record.event_types or []))

    def _index(self, webhook_id: str, old: list[str], new: list[str]) -> None:
        subscriber = WEBHOOK_PREFIX + webhook_id
        added, removed = set(new) - set(old), set(old) - set(new)
        try:
            with self._subscriptions.batch_write() as batch:
                for pattern in added:
                    batch.save(self._subscriptions(pattern=pattern, subscriber=subscriber))
                for pattern in removed:
                    batch.delete(self._subscriptions(pattern=pattern, subscriber=subscriber))
        except PynamoDBException as exc:
            raise unavailable("subscriptions") from exc
        update_sets(self._subscriptions, subscriber, added, removed)

    def delete(self, endpoint: Endpoint) -> None:
        try:
            self._model(endpoint.id).delete(condition=self._model.id.exists())
        except DeleteError as exc:
            if conditional_failure(exc):
                raise NotFound(f"No webhook {endpoint.id}.") from exc
            raise unavailable("webhooks") from exc
        self._index(endpoint.id, list(endpoint.event_types), [])

    def update_fields(self, webhook_id: str, **fields: Any) -> None:
        """Unconditional field changes (failure streaks, disabling): the last writer is right."""
        m = self._model
        actions = [
            getattr(m, k).remove() if v is None else getattr(m, k).set(stored_value(v))
            for k, v in fields.items()
        ]
        try:
            m(webhook_id).update(actions=actions, condition=m.id.exists())
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("webhooks") from exc

    def add_failure(self, webhook_id: str) -> int:
        """One more failure in a row; answers the streak (0: the endpoint is gone)."""
        m = self._model
        record = m(webhook_id)
        try:
            record.update(actions=[m.consecutive_failures.add(1)], condition=m.id.exists())
        except UpdateError as exc:
            if conditional_failure(exc):
                return 0
            raise unavailable("webhooks") from exc
        return int(record.consecutive_failures or 0)

    def get_many(self, webhook_ids: set[str] | frozenset[str]) -> list[Endpoint]:
        """Endpoints by id, 100 a BatchGetItem, in id order (a deleted one is left out)."""
        try:
            found = self._model.batch_get(sorted(webhook_ids)) if webhook_ids else []
            return sorted((endpoint_of(r) for r in found), key=lambda e: e.id)
        except PynamoDBException as exc:
            raise unavailable("webhooks") from exc

    def list(self, limit: int, before: str | None) -> tuple[list[Endpoint], str | None]:
        m = self._model
        condition = m.created_sk < before if before else None
        try:
            records, last = page_of(
                m.by_created.query("webhook", condition, scan_index_forward=False, page_size=limit + 1), limit
            )
        except PynamoDBException as exc:
            raise unavailable("webhooks") from exc
        return [endpoint_of(r) for r in records], last


class DeliveryStore:
    def __init__(self) -> None:
        self._model = bind(DeliveryRecord, "deliveries")

    def create_once(self, delivery: Delivery) -> tuple[Delivery, bool]:
        """One per event and endpoint, however often the event arrives: the stored one wins."""
        record = self._record(delivery)
        stored, new = save_once(
            record, self._model.id, "deliveries", lambda: self._model.get(delivery.id, consistent_read=True)
        )
        return (delivery if new else _delivery(stored)), new

    def create_many(self, deliveries: list[Delivery]) -> list[tuple[Delivery, bool]]:
        """``create_once`` for many (an event's deliveries): 100 (and at most ~3.5 MB) a
        TransactWriteItems. An event fanned out again finds its deliveries: the transaction is
        refused, those are read (one BatchGetItem) and the others written again."""
        done: dict[str, tuple[Delivery, bool]] = {}
        for chunk in _chunks(deliveries):
            pending = {d.id: d for d in chunk}
            for _ in range(3):  # bounded: each round takes out the deliveries found made
                if not pending:
                    break
                failed = transact_all(
                    [Write(self._record(d), self._model.id.does_not_exist(), d.id) for d in pending.values()],
                    "deliveries",
                )
                if not failed:
                    done.update((i, (d, True)) for i, d in pending.items())
                    pending = {}
                    break
                for found in self.get_many(set(failed)):
                    done[found.id] = (found, False)
                    pending.pop(found.id, None)
            for delivery in pending.values():  # still contended: one by one
                done[delivery.id] = self.create_once(delivery)
        return [done[d.id] for d in deliveries]

    def get_many(self, ids: set[str]) -> list[Delivery]:
        try:
            return [_delivery(r) for r in self._model.batch_get(sorted(ids), consistent_read=True)]
        except PynamoDBException as exc:
            raise unavailable("deliveries") from exc

    def _record(self, delivery: Delivery) -> DeliveryRecord:
        return self._model(
            **fields_of(delivery),
            created_sk=f"{delivery.created_at}#{delivery.id}",
            webhook_status=_status_key(delivery.webhook_id, delivery.status),
            type_status=_type_key(delivery, delivery.status),
            **due_fields(KIND, delivery.id, _due(delivery)),
        )

    def get(self, delivery_id: str) -> Delivery | None:
        try:
            return _delivery(self._model.get(delivery_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("deliveries") from exc

    def claim(
        self, delivery_id: str, attempt: int, now_epoch: int, lease: int, token: str
    ) -> Delivery | None:
        """Take attempt ``attempt``; the delivery as the claim left it, or None if not ours.
        ``token``: this claim's, kept on the item (a retried claim recognises itself by it)."""
        m = self._model
        # Condition, either: (a) this attempt is next, or (b) it was claimed and the claim expired.
        fresh = (m.status == "pending") & (m.attempt_count == attempt - 1)
        abandoned = (m.status == "pending") & (m.attempt_count == attempt) & (m.lease_until < now_epoch)
        record = m(delivery_id)
        try:
            record.update(
                actions=[
                    m.attempt_count.set(attempt),
                    m.lease_until.set(now_epoch + lease),
                    m.claim_token.set(token),
                    *due_actions(m, KIND, delivery_id, now_epoch + lease),
                ],
                condition=fresh | abandoned,
            )
        except UpdateError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("deliveries") from exc
        return _delivery(record)  # ALL_NEW: its attempts as recorded by now

    def overdue(self, before: int, limit: int) -> list[tuple[Delivery, Any]]:
        """Deliveries whose next attempt was due before ``before`` (the by-due index)."""
        return [(_delivery(r), (r, due)) for r, due in overdue(self._model, KIND, before, limit)]

    def postpone(self, handle: Any, new_due: int) -> bool:
        record, seen = handle
        return postpone(record, KIND, record.id, seen, new_due)

    def release(
        self, delivery: Delivery, attempt: int, skipped_reason: str | None = None, due_at: int | None = None
    ) -> None:
        """Give a claimed attempt back unrun (a rate limit held it: its message comes back at
        ``due_at``), or keep the delivery as ``skipped`` (its endpoint is disabled: recover
        sends it)."""
        m = self._model
        actions = [
            m.attempt_count.set(attempt - 1),
            m.lease_until.remove(),
            *due_actions(m, KIND, delivery.id, None if skipped_reason is not None else due_at),
        ]
        if skipped_reason is not None:
            actions += [
                m.status.set("skipped"),
                m.skipped_reason.set(skipped_reason),
                m.webhook_status.set(_status_key(delivery.webhook_id, "skipped")),
                m.type_status.set(_type_key(delivery, "skipped")),
            ]
        try:
            # Condition: still our claim on this attempt.
            m(delivery.id).update(
                actions=actions, condition=(m.status == "pending") & (m.attempt_count == attempt)
            )
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("deliveries") from exc

    def record_attempt(
        self, delivery: Delivery, attempt: dict[str, Any], status: str, now_iso: str, **fields: Any
    ) -> None:
        m = self._model
        actions = [
            m.attempts.set([*delivery.attempts, attempt]),
            m.status.set(status),
            m.webhook_status.set(_status_key(delivery.webhook_id, status)),
            m.type_status.set(_type_key(delivery, status)),
            m.lease_until.remove(),
            m.updated_at.set(now_iso),
        ]
        actions += [getattr(m, k).remove() if v is None else getattr(m, k).set(v) for k, v in fields.items()]
        next_at = fields.get("next_attempt_at")
        actions += due_actions(
            m, KIND, delivery.id, epoch_of(next_at) if status == "pending" and next_at else None
        )
        try:
            # Condition: still our claim on this attempt. (Repeating the same record, as the
            # SDK's retry of a write whose answer was lost does, writes the same values.)
            m(delivery.id).update(actions=actions, condition=m.attempt_count == attempt["number"])
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise unavailable("deliveries") from exc

    def reopen(self, delivery: Delivery, extra_attempts: int, now_iso: str) -> None:
        """Redeliver: a finished delivery gets more attempts, keeping its id (``webhook-id``)."""
        m = self._model
        try:
            m(delivery.id).update(
                actions=[
                    *due_actions(m, KIND, delivery.id, epoch_of(now_iso)),
                    m.status.set("pending"),
                    m.max_attempts.set(delivery.attempt_count + extra_attempts),
                    m.webhook_status.set(_status_key(delivery.webhook_id, "pending")),
                    m.type_status.set(_type_key(delivery, "pending")),
                    m.skipped_reason.remove(),
                    m.updated_at.set(now_iso),
                ],
                condition=m.status.is_in("delivered", "failed", "skipped"),
            )
        except UpdateError as exc:
            if conditional_failure(exc):
                raise Conflict(f"Delivery {delivery.id} is still being delivered.") from exc
            raise unavailable("deliveries") from exc

    def failed_since(self, webhook_id: str, since: str, limit: int) -> list[Delivery]:
        """Failed or skipped deliveries of an endpoint made at or after ``since``, oldest first."""
        m = self._model
        try:
            found = [
                r
                for status in ("failed", "skipped")
                for r in m.by_webhook_status.query(
                    _status_key(webhook_id, status), m.created_sk >= since, limit=limit
                )
            ]
        except PynamoDBException as exc:
            raise unavailable("deliveries") from exc
        found.sort(key=lambda r: r.created_sk)  # the two statuses' Queries, merged
        return [_delivery(r) for r in found[:limit]]

    def list(
        self, webhook_id: str, status: str | None, event_type: str | None, limit: int, before: str | None
    ) -> tuple[list[Delivery], str | None]:
        """Newest first, one partition whatever the filters: by status (by-webhook-status), by
        event type and status (by-webhook-type-status), by event type alone (that index's four
        status partitions, merged), or all (by-webhook)."""
        m = self._model
        condition = m.created_sk < before if before else None

        def newest(index: Any, key: str) -> Any:
            return index.query(key, condition, scan_index_forward=False, page_size=limit + 1)

        if event_type is not None and status is None:
            query: Any = heapq.merge(
                *(
                    islice(newest(m.by_webhook_type_status, f"{webhook_id}#{event_type}#{each}"), limit + 1)
                    for each in DELIVERY_STATUSES
                ),
                key=lambda r: r.created_sk,
                reverse=True,
            )
        elif event_type is not None:
            query = newest(m.by_webhook_type_status, f"{webhook_id}#{event_type}#{status}")
        elif status is not None:
            query = newest(m.by_webhook_status, _status_key(webhook_id, status))
        else:
            query = newest(m.by_webhook, webhook_id)
        try:
            records, last = page_of(query, limit)
        except PynamoDBException as exc:
            raise unavailable("deliveries") from exc
        return [_delivery(r) for r in records], last
