"""The pattern -> subscriber index, read once per event for both kinds of subscriber.

An event's matching patterns' sets (``store/pattern_sets.py``) are one BatchGetItem, and the
endpoints and connections they name one more (both tables in one BatchGetItem)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.domain.webhooks import Endpoint
from chalicelib.errors import DependencyUnavailable
from chalicelib.store.base import bind
from chalicelib.store.connections import CONNECTION_PREFIX
from chalicelib.store.models import ConnectionRecord, SubscriptionRecord, WebhookRecord
from chalicelib.store.pattern_sets import ALL, READY
from chalicelib.store.webhooks import WEBHOOK_PREFIX, endpoint_of

#: keys a BatchGetItem takes
BATCH_KEYS = 100


@dataclass(frozen=True)
class Subscribers:
    webhooks: frozenset[str] = field(default_factory=frozenset)  # endpoint ids
    connections: frozenset[str] = field(default_factory=frozenset)  # connection ids


class SubscriptionIndex:
    def __init__(self) -> None:
        self._model = bind(SubscriptionRecord, "subscriptions")
        self._webhooks = bind(WebhookRecord, "webhooks")
        self._connections = bind(ConnectionRecord, "connections")

    def matching(self, patterns: list[str], now_epoch: int) -> Subscribers:
        """Endpoints and connections subscribed to any of ``patterns``: their sets in one
        BatchGetItem (a pattern past a set's size, or a stage whose sets are not built yet, by
        a Query of its items)."""
        try:
            found = {
                (r.pattern, r.subscriber): r
                for r in self._model.batch_get([(p, ALL) for p in patterns] + [READY])
            }
        except PynamoDBException as exc:
            raise DependencyUnavailable("The subscriptions could not be read.") from exc
        subscribers: set[str] = set()
        for pattern in patterns:
            record = found.get((pattern, ALL))
            if READY not in found or (record is not None and record.overflow):
                subscribers |= self._queried(pattern, now_epoch)
            elif record is not None:
                subscribers |= set(record.subscribers or ())
        return Subscribers(
            frozenset(s[len(WEBHOOK_PREFIX) :] for s in subscribers if s.startswith(WEBHOOK_PREFIX)),
            frozenset(s[len(CONNECTION_PREFIX) :] for s in subscribers if s.startswith(CONNECTION_PREFIX)),
        )

    def _queried(self, pattern: str, now_epoch: int) -> set[str]:
        """A pattern's subscribers from its items (one Query)."""
        try:
            return {
                sub.subscriber
                for sub in self._model.query(pattern)
                if sub.subscriber != ALL and (sub.expires_at is None or sub.expires_at > now_epoch)
            }
        except PynamoDBException as exc:
            raise DependencyUnavailable("The subscriptions could not be read.") from exc

    def records(self, subscribers: Subscribers, now_epoch: int) -> tuple[list[Endpoint], dict[str, str]]:
        """The endpoints (in id order; deleted ones left out) and the live connections (id ->
        management endpoint) of ``subscribers``: both tables in one BatchGetItem per 100."""
        tables = get_settings().tables
        wanted = [(tables["webhooks"], i) for i in sorted(subscribers.webhooks)] + [
            (tables["connections"], i) for i in sorted(subscribers.connections)
        ]
        items: dict[str, list[dict[str, Any]]] = {}
        client = aws.client("dynamodb")
        for start in range(0, len(wanted), BATCH_KEYS):
            request: dict[str, Any] = {}
            for table, key in wanted[start : start + BATCH_KEYS]:
                request.setdefault(table, {"Keys": []})["Keys"].append({"id": {"S": key}})
            for _ in range(5):  # bounded: what DynamoDB left unprocessed, again
                if not request:
                    break
                try:
                    answer = client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise DependencyUnavailable("The subscribers could not be read.") from exc
                for table, found in answer.get("Responses", {}).items():
                    items.setdefault(table, []).extend(found)
                request = answer.get("UnprocessedKeys") or {}
            if request:
                raise DependencyUnavailable("The subscribers could not be read.")
        endpoints = sorted(
            (endpoint_of(self._webhooks.from_raw_data(item)) for item in items.get(tables["webhooks"], [])),
            key=lambda e: e.id,
        )
        connections = {}
        for item in items.get(tables["connections"], []):
            record = self._connections.from_raw_data(item)
            if record.expires_at > now_epoch:
                connections[record.id] = record.endpoint
        return endpoints, connections
