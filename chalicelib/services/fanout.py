"""One event to everyone subscribed to it: its webhook endpoints (a delivery each) and its
WebSocket connections (pushed now). The subscription index is read once for both."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.events import Event, matching_patterns
from chalicelib.domain.timeutil import utcnow
from chalicelib.services.deliveries import Deliveries
from chalicelib.services.realtime import Realtime
from chalicelib.store.subscriptions import SubscriptionIndex


class FanOut:
    def __init__(self, index: SubscriptionIndex, deliveries: Callable[[], Deliveries],
                 realtime: Callable[[], Realtime],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._index = index
        self._deliveries = deliveries
        self._realtime = realtime
        self._clock = clock

    def publish(self, event: Event) -> tuple[int, int]:
        """(endpoints handed a delivery, connections that got it). Idempotent for webhooks
        (a delivery per event and endpoint); best effort for sockets (``resume`` catches up)."""
        subscribers = self._index.matching(matching_patterns(event.type),
                                           int(self._clock().timestamp()))
        endpoints = self._deliveries().fan_out(event, subscribers.webhooks)
        pushed = self._realtime().fan_out(event, subscribers.connections) \
            if subscribers.connections else 0
        return endpoints, pushed
