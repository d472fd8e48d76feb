"""The delivery worker on the in-memory store twins: no AWS, a real receiver on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.events import make_event
from chalicelib.domain.messages import DeliveryAttempt, encode
from chalicelib.domain.ssrf import OutboundGuard, parse_networks
from chalicelib.services.attempts import AttemptEngine
from chalicelib.services.deliveries import Deliveries
from chalicelib.services.outbound import guarded_session
from chalicelib.services.webhooks import WebhookEndpoints
from chalicelib.store.memory import MemoryDeliveryStore, MemoryQueue, MemoryWebhookStore
from tests.functional.receivers import receiver


class DeadLetters:
    """Records what gave up (the dead-letter service's one call a delivery makes)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def from_delivery(
        self, delivery: Any, endpoint: Any, error: dict[str, Any], webhook_id: str | None = None
    ) -> Any:
        self.entries.append((delivery.id, error))
        return type("Entry", (), {"id": f"dlq_{len(self.entries)}"})


def build(now: list[datetime]) -> tuple[WebhookEndpoints, Deliveries, MemoryQueue, list[Any], DeadLetters]:
    guard = OutboundGuard(parse_networks("127.0.0.0/8"))
    events: list[Any] = []
    store, queue, dead = MemoryWebhookStore(), MemoryQueue(), DeadLetters()
    endpoints = WebhookEndpoints(store, lambda t, d: events.append((t, d)), guard, clock=lambda: now[0])
    deliveries = Deliveries(
        MemoryDeliveryStore(),
        endpoints,
        store,
        guarded_session(guard),
        AttemptEngine(queue, clock=lambda: now[0], rand=lambda: 0.5),
        lambda t, d: events.append((t, d)),
        dead,
        limiter=None,
        clock=lambda: now[0],
        disable_after=2,
    )
    return endpoints, deliveries, queue, events, dead


def test_a_failed_attempt_is_retried_on_the_endpoints_schedule_then_delivered() -> None:
    now = [datetime(2026, 11, 30, 10, tzinfo=UTC)]
    endpoints, deliveries, queue, events, _ = build(now)
    with receiver([(500, {}), (200, {})]) as hook:
        # Given an endpoint with its own schedule, and an event it subscribes to
        endpoint = endpoints.create(
            {"url": hook.url, "event_types": ["custom.*"], "retry_schedule": [60], "max_attempts": 2}
        )
        event = make_event("custom.thing", {"n": 1}, now[0])
        assert deliveries.fan_out(event, [endpoint]) == 1
        ((first, due),) = queue.sent
        # When the first attempt meets a 500
        assert deliveries.deliver(encode(first)) == "retrying"
        # Then attempt 2 is queued 60 s later (the schedule's delay, jitter at its middle)
        second, due = queue.sent[-1]
        assert (second.attempt, due) == (2, now[0] + timedelta(seconds=60))
        # And, delivered before its time, it only hops on
        assert deliveries.deliver(encode(second)) == "hop"
        now[0] += timedelta(seconds=61)
        assert deliveries.deliver(encode(second)) == "delivered"
        assert deliveries.deliver(encode(second)) == "duplicate"
    # And both attempts carried the same webhook-id, and the delivery kept both
    assert len({r["headers"]["webhook-id"] for r in hook.requests}) == 1
    delivery = deliveries.require(first.delivery_id)
    assert [a["status_code"] for a in delivery.attempts] == [500, 200]
    assert delivery.status == "delivered" and endpoint.id == delivery.webhook_id
    assert [t for t, _ in events] == ["webhook.created", "webhook.delivered"]


def test_gone_dead_letters_and_disables_and_a_malformed_message_is_dropped() -> None:
    now = [datetime(2026, 11, 30, 10, tzinfo=UTC)]
    endpoints, deliveries, queue, events, dead = build(now)
    with receiver([(410, {})]) as hook:
        endpoint = endpoints.create({"url": hook.url, "event_types": ["custom.*"]})
        deliveries.fan_out(make_event("custom.thing", {}, now[0]), [endpoint])
        # When the receiver answers 410 Gone
        assert deliveries.deliver(encode(queue.sent[0][0])) == "gone"
    # Then the delivery is dead-lettered at once and the endpoint disabled
    assert dead.entries[0][1]["type"] == "HTTP410"
    assert endpoints.require(endpoint.id).enabled is False
    assert events[-1][0] == "webhook.disabled"
    assert deliveries.deliver("{not json") == "malformed"
    assert deliveries.deliver(encode(DeliveryAttempt("dlv_nothing", 1, now[0]))) == "duplicate"
