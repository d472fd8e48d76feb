"""Webhook deliveries: each matching event becomes a delivery, signed per Standard Webhooks,
carried by SQS through the attempt engine, retried on its endpoint's schedule, recorded attempt
by attempt, and dead-lettered when it gives up."""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.events import Event, make_event
from chalicelib.domain.messages import DeliveryAttempt, MalformedMessage, decode
from chalicelib.domain.retry import RetryPolicy
from chalicelib.domain.signing import signed_headers
from chalicelib.domain.ssrf import ERROR_TYPE as FORBIDDEN
from chalicelib.domain.timeutil import parse_iso, to_iso, utcnow
from chalicelib.domain.webhooks import Delivery, Endpoint, delivery_id
from chalicelib.errors import Conflict, NotFound
from chalicelib.services.attempts import AttemptEngine, Result, Work
from chalicelib.services.webhooks import WebhookEndpoints
from chalicelib.store.webhooks import DeliveryStore
from chalicelib.tracing import subsegment

log = logging.getLogger("conductor.webhooks")
LEASE_SECONDS = 120
RESPONSE_BYTES = 4096
RETENTION = timedelta(days=30)
#: Events about deliveries are not themselves delivered to webhooks: a failing endpoint
#: subscribed to them would feed itself forever. They reach WebSockets and the timeline.
NOT_DELIVERED = frozenset({"webhook.delivered", "webhook.failed"})
MAX_RECOVER = 1000
#: A delivery never attempted this long after it was made lost its message (the fan-out crashed
#: between the two writes); the redelivered event, which comes after the visibility timeout
#: (180 s), queues it again.
ORPHAN_AFTER = timedelta(seconds=60)
KEPT_HEADERS = ("content-type", "retry-after", "x-request-id", "date", "server")
#: the endpoints the SQS batch being delivered names, read together (``_endpoints_of``)
_batch_endpoints: contextvars.ContextVar[dict[str, Endpoint | None] | None] = contextvars.ContextVar(
    "batch_endpoints", default=None
)


@dataclass
class _Pending:
    """One message's delivery, and its endpoint once a gate has read it."""

    delivery: Delivery
    endpoint: Endpoint | None = None


def _attempt(
    number: int,
    started: datetime,
    finished: datetime,
    response: Any,
    error: dict[str, str] | None,
    duration_ms: float = 0.0,
) -> dict[str, Any]:
    """One attempt as a delivery keeps it (the receiver's status, kept headers, body excerpt)."""
    return {
        "number": number,
        "started_at": to_iso(started),
        "finished_at": to_iso(finished),
        "duration_ms": duration_ms,
        "status_code": response.status_code if response is not None else None,
        "response_headers": {
            k: v
            for k, v in (response.headers.items() if response is not None else [])
            if k.lower() in KEPT_HEADERS
        },
        "response_body": response.text[:RESPONSE_BYTES] if response is not None else None,
        "error": error,
        "next_attempt_at": None,
    }


class DeliveryWork(Work[DeliveryAttempt, _Pending]):
    """The executor: what a delivery attempt is, for the attempt engine."""

    message = DeliveryAttempt
    name = "webhook-deliveries"
    claim_first = True  # its gates need the endpoint, which the claimed delivery names

    def __init__(self, owner: Deliveries) -> None:
        self._o = owner

    def load(self, message: DeliveryAttempt) -> _Pending | None:
        delivery = self._o.store.get(message.delivery_id)
        return _Pending(delivery) if delivery is not None else None

    def done(self, item: _Pending, message: DeliveryAttempt, now: datetime) -> bool:
        return item.delivery.status != "pending" or item.delivery.leased(message.attempt, now)

    def claim_message(self, message: DeliveryAttempt, now: datetime, token: str) -> _Pending | None:
        claimed = self._o.store.claim(
            message.delivery_id, message.attempt, int(now.timestamp()), LEASE_SECONDS, token
        )
        return _Pending(claimed) if claimed is not None else None  # attempts recorded included

    def holds(self, item: _Pending, message: DeliveryAttempt, token: str) -> bool:
        delivery = item.delivery
        return (
            delivery.status == "pending"
            and delivery.attempt_count == message.attempt
            and delivery.lease_until is not None
            and delivery.claim_token == token
        )

    def after_claim(self, item: _Pending, message: DeliveryAttempt, now: datetime) -> str | None:
        """The endpoint's gates, the attempt held: a disabled endpoint's delivery is kept as
        skipped, a deleted one's dead-lettered, a rate-limited one given back for later."""
        o, delivery = self._o, item.delivery
        endpoint = item.endpoint = o.endpoint(delivery.webhook_id)
        if endpoint is not None and not endpoint.enabled:
            # kept, not failed: recover (once the endpoint is enabled again) sends it
            o.store.release(delivery, message.attempt, skipped_reason=endpoint.skip_reason)
            return "skipped"
        if endpoint is None:  # nobody to recover it for: it ends in the dead-letter queue
            error = {"type": "EndpointDeleted", "message": "the endpoint was deleted"}
            entry = o.dead_letters.from_delivery(delivery, None, error, webhook_id=delivery.webhook_id)
            o.store.record_attempt(
                delivery,
                _attempt(message.attempt, now, now, None, error),
                "failed",
                to_iso(now),
                dead_letter_id=entry.id,
            )
            return "dropped"
        if endpoint.rate_limit:
            _, decision = o.limiter.check(
                f"whk:{endpoint.id}",
                "webhook",
                {"webhook": {"quota": endpoint.rate_limit, "window_seconds": 1}},
            )
            if not decision.allowed:
                later = now + timedelta(seconds=decision.retry_after)
                o.store.release(delivery, message.attempt, due_at=int(later.timestamp()) + 1)
                o.engine.later(message, later, now)
                return "throttled"
        return None

    def run(self, item: _Pending, message: DeliveryAttempt, now: datetime) -> str:
        import requests  # noqa: PLC0415

        from chalicelib.services.outbound import ForbiddenRequest, describe  # noqa: PLC0415
        from chalicelib.services.targets import parse_retry_after, status_text  # noqa: PLC0415

        o, delivery, endpoint = self._o, item.delivery, item.endpoint
        assert endpoint is not None  # after_claim read it
        with subsegment("webhook_delivery", webhook_id=endpoint.id, delivery_id=delivery.id):
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Conductor-Webhooks/2",
                **endpoint.headers,
                **signed_headers(endpoint.secrets(now), delivery.id, int(now.timestamp()), delivery.payload),
            }
            response, error = None, None
            started = time.perf_counter()
            try:
                # the session's adapter checks the URL and connects to the address it checked
                response = o.session.post(
                    endpoint.url,
                    data=delivery.payload.encode(),
                    headers=headers,
                    timeout=o.timeouts,
                    allow_redirects=False,
                )
            except ForbiddenRequest as exc:
                error = {"type": FORBIDDEN, "message": str(exc)}
            except requests.Timeout as exc:
                error = {"type": "Timeout", "message": describe(exc, endpoint.url)}
            except requests.RequestException as exc:
                error = {"type": "ConnectionError", "message": describe(exc, endpoint.url)}
            finished = o.clock()
            record = _attempt(
                message.attempt,
                now,
                finished,
                response,
                error,
                round((time.perf_counter() - started) * 1000, 2),
            )
            ok = response is not None and 200 <= response.status_code < 300
            o.count(endpoint, {"attempts": 1, "delivered": int(ok)}, record["duration_ms"])
            retry_after = None
            if response is not None and not ok:
                error = {"type": f"HTTP{response.status_code}", "message": status_text(response.status_code)}
                if response.status_code in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"), finished)
            status = response.status_code if response is not None else None
            return o.engine.settle(
                self, item, message, Result(ok, record, error, retry_after, final=status == 410), finished
            )

    def policy(self, item: _Pending) -> RetryPolicy:
        assert item.endpoint is not None
        return item.endpoint.retry_policy(item.delivery.max_attempts)

    def created_at(self, item: _Pending) -> datetime:
        return parse_iso(item.delivery.created_at)

    def succeeded(self, item: _Pending, message: DeliveryAttempt, result: Result, now: datetime) -> str:
        o, delivery, endpoint = self._o, item.delivery, item.endpoint
        assert endpoint is not None
        o.store.record_attempt(delivery, result.record, "delivered", to_iso(now), next_attempt_at=None)
        o.endpoints.delivered(endpoint)
        o.publish(
            "webhook.delivered",
            {
                "webhook_id": endpoint.id,
                "delivery_id": delivery.id,
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "attempts": message.attempt,
                "status_code": result.record["status_code"],
                "duration_ms": result.record["duration_ms"],
            },
        )
        return "delivered"

    def retrying(
        self,
        item: _Pending,
        message: DeliveryAttempt,
        result: Result,
        delay: float,
        run_at: datetime,
        now: datetime,
    ) -> str:
        record = {**result.record, "next_attempt_at": to_iso(run_at)}
        self._o.store.record_attempt(
            item.delivery, record, "pending", to_iso(now), next_attempt_at=to_iso(run_at)
        )
        return "retrying"

    def gave_up(
        self, item: _Pending, message: DeliveryAttempt, result: Result, reason: str, now: datetime
    ) -> str:
        o, delivery, endpoint = self._o, item.delivery, item.endpoint
        assert endpoint is not None
        error = result.error or {}
        if reason != "gone":
            o.count(endpoint, {"failed": 1}, None)
        entry = o.dead_letters.from_delivery(delivery, endpoint, error)
        o.store.record_attempt(
            delivery, result.record, "failed", to_iso(now), next_attempt_at=None, dead_letter_id=entry.id
        )
        if reason == "gone":
            o.endpoints.disable(endpoint, "the endpoint answered 410 Gone")
            return "gone"
        o.publish(
            "webhook.failed",
            {
                "webhook_id": endpoint.id,
                "delivery_id": delivery.id,
                "event_id": delivery.event_id,
                "error": result.error,
                "attempts": message.attempt,
            },
        )
        o.endpoints.failed(endpoint, o.disable_after)
        return "failed"


class Deliveries:
    """Fan-out, the delivery worker, and what people do with deliveries (read, redeliver,
    recover)."""

    def __init__(
        self,
        store: DeliveryStore,
        endpoints: WebhookEndpoints,
        endpoints_store: Any,
        session: Any,
        engine: AttemptEngine,
        publish: Callable[[str, dict[str, Any]], Any],
        dead_letters: Any,
        limiter: Any,
        metrics: Any = None,
        clock: Callable[[], datetime] = utcnow,
        disable_after: int = 20,
        timeouts: tuple[float, float] = (5.0, 15.0),
    ) -> None:
        self.store = store
        self.endpoints = endpoints
        self.endpoints_store = endpoints_store
        self.session = session
        self.engine = engine
        self.publish = publish
        self.dead_letters = dead_letters
        self.limiter = limiter
        self.metrics = metrics
        self.clock = clock
        self.disable_after = disable_after
        self.timeouts = timeouts  # (connect, read) seconds
        self._work = DeliveryWork(self)

    def count(self, endpoint: Endpoint, fields: dict[str, float], ms: float | None) -> None:
        """An endpoint's counters, with what names it (its description, else its URL)."""
        if self.metrics is not None:
            self.metrics.count(
                "webhooks", endpoint.id, fields, ("latency", ms), name=endpoint.description or endpoint.url
            )

    # --- making deliveries -------------------------------------------------------------------

    def fan_out(self, event: Event, endpoints: list[Endpoint]) -> int:
        """One delivery per endpoint subscribed to the event's type (``services/fanout.py``
        found and read them); a disabled endpoint's waits, skipped, for recover. Written 100 a
        transaction and queued 10 a SendMessageBatch."""
        if event.type in NOT_DELIVERED or not endpoints:
            return 0
        now = self.clock()
        made = self.store.create_many(
            [self._delivery(endpoint, event, now, skipped=not endpoint.enabled) for endpoint in endpoints]
        )
        self.engine.queue.send_many(
            [DeliveryAttempt(d.id, 1, now, d.webhook_id) for d, new in made if self._to_queue(d, new, now)],
            run_at=now,
            now=now,
        )
        return len(endpoints)

    @staticmethod
    def _delivery(endpoint: Endpoint, event: Event, now: datetime, skipped: bool = False) -> Delivery:
        created = to_iso(now)
        return Delivery(
            id=delivery_id(event.id, endpoint.id),
            webhook_id=endpoint.id,
            event_id=event.id,
            event_type=event.type,
            payload=json.dumps(event.to_dict(), separators=(",", ":")),
            status="skipped" if skipped else "pending",
            skipped_reason=endpoint.skip_reason if skipped else None,
            max_attempts=endpoint.max_attempts,
            created_at=created,
            updated_at=created,
            expires_at=int((now + RETENTION).timestamp()),
        )

    @staticmethod
    def _to_queue(delivery: Delivery, new: bool, now: datetime) -> bool:
        """A new pending delivery is queued; so is one made by a run that crashed before
        queuing it (never attempted, older than ``ORPHAN_AFTER``)."""
        orphaned = (
            delivery.status == "pending"
            and delivery.attempt_count == 0
            and now - parse_iso(delivery.created_at) > ORPHAN_AFTER
        )
        return (new and delivery.status == "pending") or orphaned

    def _new_delivery(self, endpoint: Endpoint, event: Event) -> Delivery:
        now = self.clock()
        delivery, new = self.store.create_once(self._delivery(endpoint, event, now))
        if self._to_queue(delivery, new, now):
            self._enqueue(delivery.id, endpoint.id, 1, now)
        return delivery

    def _enqueue(self, dlv_id: str, webhook_id: str, attempt: int, now: datetime) -> None:
        self.engine.queue.send(DeliveryAttempt(dlv_id, attempt, now, webhook_id), run_at=now, now=now)

    def send_test(self, webhook_id: str) -> Delivery:
        endpoint = self.endpoints.require(webhook_id)
        event = make_event("webhook.test", {"webhook_id": webhook_id}, self.clock())
        return self._new_delivery(endpoint, event)

    # --- the worker ------------------------------------------------------------------------------

    def deliver_batch(self, bodies: list[str]) -> list[str | Exception]:
        """Deliver a batch in parallel over the pooled session: what each message did, or the
        infrastructure failure that stopped it (that message alone is received again)."""
        if not bodies:
            return []
        token = _batch_endpoints.set(self._endpoints_of(bodies))
        try:
            with ThreadPoolExecutor(max_workers=min(10, len(bodies))) as pool:
                # each thread runs in a copy of this context: its events join the batch's
                # outbox, and it sees the batch's endpoints
                futures = [pool.submit(contextvars.copy_context().run, self.deliver, body) for body in bodies]
        finally:  # the next invocation of this container reads its own
            _batch_endpoints.reset(token)
        results: list[str | Exception] = []
        for body, future in zip(bodies, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001 - this message's failure, reported for it
                log.warning("delivery message %.120s failed: %s", body, exc)
                results.append(exc)
        return results

    def _endpoints_of(self, bodies: list[str]) -> dict[str, Endpoint | None]:
        """The endpoints a batch's messages name, in one BatchGetItem (None: deleted). A
        message that names none (sent before they did) reads its endpoint itself."""
        ids = set()
        for body in bodies:
            try:
                webhook_id = decode(DeliveryAttempt, body).webhook_id
            except MalformedMessage:
                continue  # the engine drops it with a log line
            if webhook_id is not None:
                ids.add(webhook_id)
        found: dict[str, Endpoint | None] = dict.fromkeys(ids)
        found.update((e.id, e) for e in self.endpoints_store.get_many(frozenset(ids)))
        return found

    def endpoint(self, webhook_id: str) -> Endpoint | None:
        """The endpoint as this batch read it, or as it is now outside a batch."""
        batch = _batch_endpoints.get()
        if batch is not None and webhook_id in batch:
            return batch[webhook_id]
        return self.endpoints_store.get(webhook_id)

    def deliver(self, body: str) -> str:
        """One message of the deliveries queue; answers what happened."""
        return self.engine.handle(self._work, body)

    # --- people ------------------------------------------------------------------------------------

    def require(self, dlv_id: str) -> Delivery:
        delivery = self.store.get(dlv_id) if dlv_id.startswith("dlv_") else None
        if delivery is None:
            raise NotFound(f"No delivery {dlv_id}.")
        return delivery

    def list(
        self, webhook_id: str, status: str | None, event_type: str | None, limit: int, before: str | None
    ) -> tuple[list[Delivery], str | None]:
        self.endpoints.require(webhook_id)
        return self.store.list(webhook_id, status, event_type, limit, before)

    def redeliver(self, dlv_id: str) -> Delivery:
        """Send a finished delivery again, with the same ``webhook-id`` (the receiver's key)."""
        delivery = self.require(dlv_id)
        endpoint = self.endpoints.require(delivery.webhook_id)
        now = self.clock()
        self.store.reopen(delivery, endpoint.max_attempts, to_iso(now))
        self._enqueue(dlv_id, endpoint.id, delivery.attempt_count + 1, now)
        return self.require(dlv_id)

    def recover(self, webhook_id: str, since: datetime) -> dict[str, Any]:
        """Send again every failed or skipped delivery since a time; the answer counts what was
        queued. A disabled endpoint would refuse them all: enable it first. Each costs one
        conditional write; their messages go 10 a call. One being delivered right now is left
        to that delivery."""
        endpoint = self.endpoints.require(webhook_id)
        if not endpoint.enabled:
            raise Conflict(
                f"Webhook {webhook_id} is disabled ({endpoint.disabled_reason or 'by hand'}"
                "); enable it (PUT with enabled: true), then recover."
            )
        now = self.clock()
        queued: list[DeliveryAttempt] = []
        for delivery in self.store.failed_since(webhook_id, to_iso(since), MAX_RECOVER):
            try:
                self.store.reopen(delivery, endpoint.max_attempts, to_iso(now))
            except Conflict:
                continue
            queued.append(DeliveryAttempt(delivery.id, delivery.attempt_count + 1, now, webhook_id))
        self.engine.queue.send_many(queued, run_at=now, now=now)
        return {"webhook_id": webhook_id, "since": to_iso(since), "redelivered": len(queued)}
