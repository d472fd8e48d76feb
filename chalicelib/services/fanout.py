"""One event to everyone subscribed to it: its webhook endpoints (a delivery each) and its
WebSocket connections (pushed now). The subscription index is read once for both (its patterns'
sets: one BatchGetItem), and the endpoints and connections together (one more)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.events import Event, matching_patterns
from chalicelib.domain.timeutil import utcnow
from chalicelib.services.deliveries import NOT_DELIVERED, Deliveries
from chalicelib.services.realtime import Realtime
from chalicelib.store.subscriptions import Subscribers, SubscriptionIndex


class FanOut:
    def __init__(
        self,
        index: SubscriptionIndex,
        deliveries: Callable[[], Deliveries],
        realtime: Callable[[], Realtime],
        clock: Callable[[], datetime] = utcnow,
        fanned_out: Callable[[Event], None] | None = None,
    ) -> None:
        self._index = index
        self._fanned_out = fanned_out
        self._deliveries = deliveries
        self._realtime = realtime
        self._clock = clock

    def publish(self, event: Event) -> tuple[int, int]:
        """(endpoints handed a delivery, connections that got it). Idempotent for webhooks
        (a delivery per event and endpoint); at least once for sockets. Once handed over, the
        event leaves the by-due index (until then the reconciler would send it again)."""
        handed = self._hand_over(event)
        if self._fanned_out is not None:
            self._fanned_out(event)
        return handed

    def _hand_over(self, event: Event) -> tuple[int, int]:
        now_epoch = int(self._clock().timestamp())
        subscribers = self._index.matching(matching_patterns(event.type), now_epoch)
        if event.type in NOT_DELIVERED:  # to sockets only (no webhook feeds on its failures)
            subscribers = Subscribers(connections=subscribers.connections)
        if not subscribers.webhooks and not subscribers.connections:
            return 0, 0
        endpoints, connections = self._index.records(subscribers, now_epoch)
        made = self._deliveries().fan_out(event, endpoints)
        pushed = self._realtime().fan_out(event, connections) if connections else 0
        return made, pushed
