"""The pattern -> subscriber index, read once per event for both kinds of subscriber."""
from __future__ import annotations

from dataclasses import dataclass, field

from pynamodb.exceptions import PynamoDBException

from chalicelib.errors import DependencyUnavailable
from chalicelib.store.base import bind
from chalicelib.store.connections import CONNECTION_PREFIX
from chalicelib.store.models import SubscriptionRecord
from chalicelib.store.webhooks import WEBHOOK_PREFIX


@dataclass(frozen=True)
class Subscribers:
    webhooks: frozenset[str] = field(default_factory=frozenset)  # endpoint ids
    connections: frozenset[str] = field(default_factory=frozenset)  # connection ids


class SubscriptionIndex:
    def __init__(self) -> None:
        self._model = bind(SubscriptionRecord, "subscriptions")

    def matching(self, patterns: list[str], now_epoch: int) -> Subscribers:
        """Endpoints and live connections subscribed to any of ``patterns``: one Query per
        pattern, whoever subscribed (the webhooks and the sockets of an event share them)."""
        webhooks: set[str] = set()
        connections: set[str] = set()
        try:
            for pattern in patterns:
                for sub in self._model.query(pattern):
                    if sub.subscriber.startswith(WEBHOOK_PREFIX):
                        webhooks.add(sub.subscriber[len(WEBHOOK_PREFIX):])
                    elif sub.subscriber.startswith(CONNECTION_PREFIX) and (
                            sub.expires_at is None or sub.expires_at > now_epoch):
                        connections.add(sub.subscriber[len(CONNECTION_PREFIX):])
        except PynamoDBException as exc:
            raise DependencyUnavailable("The subscriptions could not be read.") from exc
        return Subscribers(frozenset(webhooks), frozenset(connections))
