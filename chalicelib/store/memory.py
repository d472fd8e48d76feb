"""In-memory twins of the stores, for service tests that need no AWS.

Each twin keeps the same contract as its DynamoDB store (the same conditions on the same
writes, entities in and out); ``tests/functional/test_store_twins.py`` runs both through one
set of assertions so that a twin cannot drift from the store it stands in for.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.webhooks import Delivery, Endpoint
from chalicelib.errors import Conflict, NotFound
from chalicelib.store.queues import Queue


def _page(items: list[Any], limit: int, before: str | None) -> tuple[list[Any], str | None]:
    """Newest first by ``created_at#id``, as the by-created indexes order them."""
    keyed = sorted(((f"{i.created_at}#{i.id}", i) for i in items), reverse=True, key=lambda pair: pair[0])
    keyed = [(k, i) for k, i in keyed if before is None or k < before]
    page = keyed[:limit]
    return [i for _, i in page], (page[-1][0] if len(keyed) > limit else None)


class MemoryWebhookStore:
    def __init__(self) -> None:
        self.items: dict[str, Endpoint] = {}

    def get(self, webhook_id: str) -> Endpoint | None:
        return self.items.get(webhook_id)

    def save(self, endpoint: Endpoint, expected_version: int | None, old_patterns: list[str]) -> None:
        stored = self.items.get(endpoint.id)
        if (
            (stored is not None)
            if expected_version is None
            else (stored is None or stored.version != expected_version)
        ):
            raise Conflict("The webhook changed since you read it.")
        self.items[endpoint.id] = endpoint

    def delete(self, endpoint: Endpoint) -> None:
        if self.items.pop(endpoint.id, None) is None:
            raise NotFound(f"No webhook {endpoint.id}.")

    def update_fields(self, webhook_id: str, **fields: Any) -> None:
        if webhook_id in self.items:
            self.items[webhook_id] = dataclasses.replace(self.items[webhook_id], **fields)

    def add_failure(self, webhook_id: str) -> int:
        if webhook_id not in self.items:
            return 0
        streak = self.items[webhook_id].consecutive_failures + 1
        self.update_fields(webhook_id, consecutive_failures=streak)
        return streak

    def get_many(self, webhook_ids: set[str] | frozenset[str]) -> list[Endpoint]:
        return sorted((self.items[i] for i in webhook_ids if i in self.items), key=lambda e: e.id)

    def list(self, limit: int, before: str | None) -> tuple[list[Endpoint], str | None]:
        return _page(list(self.items.values()), limit, before)


class MemoryDeliveryStore:
    def __init__(self) -> None:
        self.items: dict[str, Delivery] = {}

    def create_once(self, delivery: Delivery) -> tuple[Delivery, bool]:
        if delivery.id in self.items:
            return self.items[delivery.id], False
        self.items[delivery.id] = delivery
        return delivery, True

    def create_many(self, deliveries: list[Delivery]) -> list[tuple[Delivery, bool]]:
        return [self.create_once(delivery) for delivery in deliveries]

    def get(self, delivery_id: str) -> Delivery | None:
        return self.items.get(delivery_id)

    def _set(self, delivery_id: str, **fields: Any) -> None:
        self.items[delivery_id] = dataclasses.replace(self.items[delivery_id], **fields)

    def claim(
        self, delivery_id: str, attempt: int, now_epoch: int, lease: int, token: str = ""
    ) -> Delivery | None:
        d = self.items.get(delivery_id)
        fresh = d is not None and d.status == "pending" and d.attempt_count == attempt - 1
        abandoned = (
            d is not None
            and d.status == "pending"
            and d.attempt_count == attempt
            and d.lease_until is not None
            and d.lease_until < now_epoch
        )
        if not (fresh or abandoned):
            return None
        self._set(
            delivery_id, attempt_count=attempt, lease_until=now_epoch + lease, claim_token=token or None
        )
        return self.items[delivery_id]

    def release(
        self, delivery: Delivery, attempt: int, skipped_reason: str | None = None, due_at: int | None = None
    ) -> None:
        d = self.items.get(delivery.id)
        if d is None or d.status != "pending" or d.attempt_count != attempt:
            return
        extra = {"status": "skipped", "skipped_reason": skipped_reason} if skipped_reason else {}
        self._set(delivery.id, attempt_count=attempt - 1, lease_until=None, **extra)

    def record_attempt(
        self, delivery: Delivery, attempt: dict[str, Any], status: str, now_iso: str, **fields: Any
    ) -> None:
        d = self.items.get(delivery.id)
        if d is None or d.attempt_count != attempt["number"]:
            return
        self._set(
            delivery.id,
            attempts=(*delivery.attempts, attempt),
            status=status,
            lease_until=None,
            updated_at=now_iso,
            **fields,
        )

    def reopen(self, delivery: Delivery, extra_attempts: int, now_iso: str) -> None:
        d = self.items.get(delivery.id)
        if d is None or d.status not in ("delivered", "failed", "skipped"):
            raise Conflict(f"Delivery {delivery.id} is still being delivered.")
        self._set(
            delivery.id,
            status="pending",
            skipped_reason=None,
            updated_at=now_iso,
            max_attempts=delivery.attempt_count + extra_attempts,
        )

    def failed_since(self, webhook_id: str, since: str, limit: int) -> list[Delivery]:
        mine = sorted(
            (
                d
                for d in self.items.values()
                if d.webhook_id == webhook_id and f"{d.created_at}#{d.id}" >= since
            ),
            key=lambda d: (d.created_at, d.id),
        )
        return [d for d in mine if d.status in ("failed", "skipped")][:limit]

    def list(
        self, webhook_id: str, status: str | None, event_type: str | None, limit: int, before: str | None
    ) -> tuple[list[Delivery], str | None]:
        mine = [
            d
            for d in self.items.values()
            if d.webhook_id == webhook_id
            and status in (None, d.status)
            and event_type in (None, d.event_type)
        ]
        return _page(mine, limit, before)


class MemoryQueue:
    """A queue that keeps what is sent (message, when it is due) in order."""

    name = "memory"

    def __init__(self) -> None:
        self.sent: list[tuple[Any, datetime | None]] = []

    def send(
        self, message: Any, *, run_at: datetime | None = None, now: datetime | None = None, delay: int = 0
    ) -> None:
        due = run_at if run_at is not None else (now + timedelta(seconds=delay) if now is not None else None)
        self.sent.append((message, due))

    def send_many(self, messages: list[Any], *, run_at: datetime, now: datetime) -> None:
        for message in messages:
            self.send(message, run_at=run_at, now=now)

    @staticmethod
    def due_later(run_at: datetime, now: datetime) -> bool:
        return Queue.due_later(run_at, now)
