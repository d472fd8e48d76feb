"""Webhooks: endpoints subscribe to event patterns; each matching event becomes a delivery,
signed per Standard Webhooks, carried by SQS, retried on a Svix-like schedule, recorded attempt
by attempt, and dead-lettered when it gives up."""
from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.events import Event, make_event, matching_patterns
from chalicelib.domain.headers import kept, masked
from chalicelib.domain.ids import RANDOM_CHARS, TIME_CHARS, encode, id_time, new_id
from chalicelib.domain.messages import DeliveryAttempt, MalformedMessage, decode
from chalicelib.domain.signing import new_secret, signed_headers
from chalicelib.domain.ssrf import ERROR_TYPE as FORBIDDEN
from chalicelib.domain.ssrf import ForbiddenTarget, OutboundGuard
from chalicelib.domain.timeutil import parse_iso, to_iso, utcnow
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.store.models import DeliveryRecord, WebhookRecord
from chalicelib.store.queues import Queue
from chalicelib.store.webhooks import DeliveryStore, WebhookStore
from chalicelib.tracing import subsegment

log = logging.getLogger("conductor.webhooks")
#: Svix's schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (+-20 %).
SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_ATTEMPTS = 3
LEASE_SECONDS = 120
ROTATION_GRACE = timedelta(hours=24)
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


def delivery_id(event_id: str, webhook_id: str) -> str:
    """``dlv_`` + the event's time + bits of (event, endpoint): one delivery per pair."""
    digest = int.from_bytes(hashlib.sha256(f"{event_id}|{webhook_id}".encode()).digest()[:10],
                            "big")
    ms = int(id_time(event_id).timestamp() * 1000)
    return f"dlv_{encode(ms, TIME_CHARS)}{encode(digest, RANDOM_CHARS)}"


def _skip_reason(endpoint: WebhookRecord) -> str:
    """Why a delivery waits as ``skipped`` instead of being sent."""
    return f"the endpoint was disabled: {endpoint.disabled_reason or 'by hand'}"


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        deliveries: DeliveryStore,
        session: Any,
        queue: Queue,
        publish: Callable[[str, dict[str, Any]], Any],
        dead_letters: Any,
        limiter: Any,
        guard: OutboundGuard | None = None,
        disable_after: int = 20,
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        metrics: Any = None,
        timeouts: tuple[float, float] = (5.0, 15.0),
    ) -> None:
        self._metrics = metrics
        self._timeouts = timeouts  # (connect, read) seconds
        self._store = store
        self._deliveries = deliveries
        self._session = session
        self._queue = queue
        self._publish = publish
        self._dead_letters = dead_letters
        self._limiter = limiter
        self._guard = guard or OutboundGuard()
        self._disable_after = disable_after
        self._clock = clock
        self._rand = rand

    # --- endpoints --------------------------------------------------------------------------------

    def _check(self, url: str) -> None:
        try:
            self._guard.check(url)
        except ForbiddenTarget as exc:
            raise ValidationFailed("This URL may not receive webhooks.", [
                {"field": "url", "problem": str(exc)}]) from exc

    @staticmethod
    def to_dict(record: WebhookRecord) -> dict[str, Any]:
        return {"id": record.id, "url": record.url, "description": record.description,
                "event_types": list(record.event_types or []), "headers": masked(record.headers),
                "enabled": record.enabled == "true", "disabled_reason": record.disabled_reason,
                "rate_limit": int(record.rate_limit) if record.rate_limit else None,
                "max_attempts": int(record.max_attempts),
                "retry_schedule": [int(d) for d in record.retry_schedule]
                if record.retry_schedule else None,
                "version": int(record.version),
                "consecutive_failures": int(record.consecutive_failures or 0),
                "created_at": record.created_at, "updated_at": record.updated_at}

    def require(self, webhook_id: str) -> WebhookRecord:
        record = self._store.get(webhook_id) if webhook_id.startswith("whk_") else None
        if record is None:
            raise NotFound(f"No webhook {webhook_id}.")
        return record

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check(body["url"])
        headers = kept(body.get("headers"), None, "headers")
        now = to_iso(self._clock())
        webhook_id = new_id("whk")
        record = self._store.new(
            id=webhook_id, url=body["url"], description=body.get("description"),
            event_types=sorted(set(body["event_types"])), headers=headers,
            enabled="true" if body.get("enabled", True) else "false",
            rate_limit=body.get("rate_limit"),
            max_attempts=body.get("max_attempts") or DEFAULT_ATTEMPTS,
            retry_schedule=body.get("retry_schedule"), secret=new_secret(),
            consecutive_failures=0, version=1, created_at=now,
            created_sk=f"{now}#{webhook_id}", updated_at=now)
        self._store.save(record, None, [])
        self._publish("webhook.created", {"webhook_id": webhook_id, "url": record.url})
        return {**self.to_dict(record), "secret": record.secret}

    def get(self, webhook_id: str) -> dict[str, Any]:
        return self.to_dict(self.require(webhook_id))

    def list(self, limit: int, before: str | None) -> tuple[list[dict[str, Any]], str | None]:
        records, last = self._store.list(limit, before)
        return [self.to_dict(r) for r in records], last

    def update(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        record = self.require(webhook_id)
        self._check(body["url"])
        headers = kept(body.get("headers"), record.headers, "headers")
        old_patterns, expected = list(record.event_types or []), int(record.version)
        record.url, record.description = body["url"], body.get("description")
        record.event_types = sorted(set(body["event_types"]))
        record.headers = headers
        enabled = body.get("enabled", True)
        record.enabled = "true" if enabled else "false"
        if enabled:
            record.disabled_reason, record.consecutive_failures = None, 0
        record.rate_limit = body.get("rate_limit")
        record.max_attempts = body.get("max_attempts") or DEFAULT_ATTEMPTS
        record.retry_schedule = body.get("retry_schedule")
        record.version, record.updated_at = expected + 1, to_iso(self._clock())
        self._store.save(record, expected, old_patterns)
        self._publish("webhook.updated", {"webhook_id": webhook_id})
        return self.to_dict(record)

    def delete(self, webhook_id: str) -> None:
        self._store.delete(self.require(webhook_id))
        self._publish("webhook.deleted", {"webhook_id": webhook_id})

    def rotate(self, webhook_id: str) -> dict[str, Any]:
        """A new secret; the previous one keeps signing (both are sent) for 24 hours."""
        record = self.require(webhook_id)
        now = self._clock()
        secret = new_secret()
        self._store.update_fields(
            record, secret=secret, previous_secret=record.secret,
            previous_secret_expires_at=int((now + ROTATION_GRACE).timestamp()),
            updated_at=to_iso(now))
        return {"id": webhook_id, "secret": secret,
                "previous_secret_expires_at": to_iso(now + ROTATION_GRACE)}

    # --- deliveries --------------------------------------------------------------------------------

    def fan_out(self, event: Event) -> int:
        """One delivery per enabled endpoint subscribed to the event's type (no scan)."""
        if event.type in NOT_DELIVERED:
            return 0
        endpoints = self._store.subscribed(matching_patterns(event.type))
        for endpoint in endpoints:  # a disabled endpoint's delivery waits, skipped, for recover
            self._new_delivery(endpoint, event, skipped=endpoint.enabled != "true")
        return len(endpoints)

    def _new_delivery(self, endpoint: WebhookRecord, event: Event,
                      skipped: bool = False) -> DeliveryRecord:
        now = self._clock()
        created = to_iso(now)
        dlv_id = delivery_id(event.id, endpoint.id)
        record, new = self._deliveries.create_once(
            id=dlv_id, webhook_id=endpoint.id, event_id=event.id, event_type=event.type,
            payload=json.dumps(event.to_dict(), separators=(",", ":")),
            status="skipped" if skipped else "pending",
            skipped_reason=_skip_reason(endpoint) if skipped else None,
            attempts=[], attempt_count=0, max_attempts=int(endpoint.max_attempts),
            created_at=created, created_sk=f"{created}#{dlv_id}", updated_at=created,
            expires_at=int((now + RETENTION).timestamp()))
        orphaned = (record.status == "pending" and int(record.attempt_count) == 0
                    and now - parse_iso(record.created_at) > ORPHAN_AFTER)
        if new or orphaned:  # orphaned: made by a run that crashed before queuing it
            self._enqueue(dlv_id, 1, now, now)
        return record

    def _enqueue(self, dlv_id: str, attempt: int, run_at: datetime, now: datetime) -> None:
        self._queue.send(DeliveryAttempt(dlv_id, attempt, run_at), run_at=run_at, now=now)

    def send_test(self, webhook_id: str) -> dict[str, Any]:
        endpoint = self.require(webhook_id)
        event = make_event("webhook.test", {"webhook_id": webhook_id}, self._clock())
        return self.delivery_to_dict(self._new_delivery(endpoint, event))

    def deliver_batch(self, bodies: list[str]) -> list[str]:
        """Deliver a batch in parallel over the pooled session; an infrastructure failure of
        any one is raised after all finished, so SQS redelivers the batch (idempotently)."""
        if not bodies:
            return []
        with ThreadPoolExecutor(max_workers=min(10, len(bodies))) as pool:
            futures = [pool.submit(self.deliver, body) for body in bodies]
        results, errors = [], []
        for future in futures:
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001 - collected, then the first is raised
                errors.append(exc)
        if errors:
            raise errors[0]
        return results

    def deliver(self, body: str) -> str:
        try:
            message = decode(DeliveryAttempt, body)
        except MalformedMessage:
            log.error("dropping a malformed delivery message: %.200s", body)
            return "malformed"
        dlv_id, attempt, run_at = message.delivery_id, message.attempt, message.run_at
        now = self._clock()
        delivery = self._deliveries.get(dlv_id)
        if delivery is None or delivery.status != "pending":
            return "duplicate"
        claimed = int(delivery.attempt_count) >= attempt
        if claimed and (delivery.lease_until is None or delivery.lease_until >= now.timestamp()):
            return "duplicate"  # done, or being done now (a crashed claim is taken over later)
        if self._queue.due_later(run_at, now):
            self._enqueue(dlv_id, attempt, run_at, now)
            return "hop"
        endpoint = self._store.get(delivery.webhook_id)
        if endpoint is not None and endpoint.enabled != "true":
            # kept, not failed: recover (once the endpoint is enabled again) sends it
            self._deliveries.skip(delivery, _skip_reason(endpoint), to_iso(now))
            return "skipped"
        if endpoint is None:  # nobody to recover it for: it ends in the dead-letter queue
            if self._deliveries.claim(delivery, attempt, int(now.timestamp()), LEASE_SECONDS):
                error = {"type": "EndpointDeleted", "message": "the endpoint was deleted"}
                entry = self._dead_letters.from_delivery(delivery, None, error,
                                                         webhook_id=delivery.webhook_id)
                self._deliveries.record_attempt(delivery, self._attempt(
                    attempt, now, now, None, error), "failed", to_iso(now),
                    dead_letter_id=entry.id)
            return "dropped"
        if endpoint.rate_limit:
            _, decision = self._limiter.check(f"whk:{endpoint.id}", "webhook", {
                "webhook": {"quota": int(endpoint.rate_limit), "window_seconds": 1}})
            if not decision.allowed:
                self._enqueue(dlv_id, attempt, now + timedelta(seconds=decision.retry_after), now)
                return "throttled"
        if not self._deliveries.claim(delivery, attempt, int(now.timestamp()), LEASE_SECONDS):
            return "duplicate"
        with subsegment("webhook_delivery", webhook_id=endpoint.id, delivery_id=dlv_id):
            return self._attempt_delivery(endpoint, delivery, attempt, now)

    def _secrets(self, endpoint: WebhookRecord, now: datetime) -> list[str]:
        secrets_ = [endpoint.secret]
        if endpoint.previous_secret and (endpoint.previous_secret_expires_at or 0) > now.timestamp():
            secrets_.append(endpoint.previous_secret)
        return secrets_

    def _attempt(self, number: int, started: datetime, finished: datetime, response: Any,
                 error: dict[str, str] | None, duration_ms: float = 0.0) -> dict[str, Any]:
        return {
            "number": number, "started_at": to_iso(started), "finished_at": to_iso(finished),
            "duration_ms": duration_ms,
            "status_code": response.status_code if response is not None else None,
            "response_headers": {k: v for k, v in (response.headers.items() if response is not None
                                                   else []) if k.lower() in KEPT_HEADERS},
            "response_body": response.text[:RESPONSE_BYTES] if response is not None else None,
            "error": error, "next_attempt_at": None,
        }

    def _attempt_delivery(self, endpoint: WebhookRecord, delivery: DeliveryRecord, attempt: int,
                          now: datetime) -> str:
        import requests  # noqa: PLC0415

        from chalicelib.services.outbound import ForbiddenRequest, describe  # noqa: PLC0415
        from chalicelib.services.targets import status_text  # noqa: PLC0415

        headers = {"Content-Type": "application/json", "User-Agent": "Conductor-Webhooks/2",
                   **(endpoint.headers or {}),
                   **signed_headers(self._secrets(endpoint, now), delivery.id, int(now.timestamp()),
                                    delivery.payload)}
        response, error = None, None
        started = time.perf_counter()
        try:
            # the session's adapter checks the URL and connects to the address it checked
            response = self._session.post(endpoint.url, data=delivery.payload.encode(),
                                          headers=headers, timeout=self._timeouts,
                                          allow_redirects=False)
        except ForbiddenRequest as exc:
            error = {"type": FORBIDDEN, "message": str(exc)}
        except requests.Timeout as exc:
            error = {"type": "Timeout", "message": describe(exc, endpoint.url)}
        except requests.RequestException as exc:
            error = {"type": "ConnectionError", "message": describe(exc, endpoint.url)}
        finished = self._clock()
        record = self._attempt(attempt, now, finished, response, error,
                               round((time.perf_counter() - started) * 1000, 2))
        ok = response is not None and 200 <= response.status_code < 300
        self._count(endpoint.id, {"attempts": 1, "delivered": int(ok)}, record["duration_ms"])
        if response is not None and 200 <= response.status_code < 300:
            self._deliveries.record_attempt(delivery, record, "delivered", to_iso(finished),
                                            next_attempt_at=None)
            if endpoint.consecutive_failures:
                self._store.update_fields(endpoint, consecutive_failures=0)
            self._publish("webhook.delivered", {
                "webhook_id": endpoint.id, "delivery_id": delivery.id, "event_id": delivery.event_id,
                "event_type": delivery.event_type, "attempts": attempt,
                "status_code": response.status_code, "duration_ms": record["duration_ms"]})
            return "delivered"
        if response is not None:
            error = {"type": f"HTTP{response.status_code}",
                     "message": status_text(response.status_code)}
        if response is not None and response.status_code == 410:
            entry = self._dead_letters.from_delivery(delivery, endpoint, error or {})
            self._deliveries.record_attempt(delivery, record, "failed", to_iso(finished),
                                            next_attempt_at=None, dead_letter_id=entry.id)
            self._disable(endpoint, "the endpoint answered 410 Gone")
            return "gone"
        final = attempt >= int(delivery.max_attempts) or (error or {}).get("type") == FORBIDDEN
        if not final:
            schedule = [float(d) for d in endpoint.retry_schedule or SCHEDULE_SECONDS]
            delay = schedule[min(attempt - 1, len(schedule) - 1)]
            delay *= 0.8 + 0.4 * self._rand()
            if response is not None and response.status_code in (429, 503):
                from chalicelib.services.targets import parse_retry_after  # noqa: PLC0415

                retry_after = parse_retry_after(response.headers.get("Retry-After"), finished)
                delay = max(delay, retry_after or 0)
            run_at = finished + timedelta(seconds=delay)
            record["next_attempt_at"] = to_iso(run_at)
            self._enqueue(delivery.id, attempt + 1, run_at, finished)  # first: none lost
            self._deliveries.record_attempt(delivery, record, "pending", to_iso(finished),
                                            next_attempt_at=to_iso(run_at))
            return "retrying"
        self._count(endpoint.id, {"failed": 1}, None)
        entry = self._dead_letters.from_delivery(delivery, endpoint, error or {})
        self._deliveries.record_attempt(delivery, record, "failed", to_iso(finished),
                                        next_attempt_at=None, dead_letter_id=entry.id)
        self._publish("webhook.failed", {"webhook_id": endpoint.id, "delivery_id": delivery.id,
                                         "event_id": delivery.event_id, "error": error,
                                         "attempts": attempt})
        if self._store.add_failure(endpoint) >= self._disable_after:
            self._disable(endpoint, f"{self._disable_after} deliveries failed in a row")
        return "failed"

    def _count(self, webhook_id: str, fields: dict[str, float], ms: float | None) -> None:
        if self._metrics is not None:
            self._metrics.count("webhooks", webhook_id, fields, ("latency", ms))

    def _disable(self, endpoint: WebhookRecord, reason: str) -> None:
        self._store.update_fields(endpoint, enabled="false", disabled_reason=reason,
                                  updated_at=to_iso(self._clock()))
        self._publish("webhook.disabled", {"webhook_id": endpoint.id, "reason": reason})

    # --- people ---------------------------------------------------------------------------------------

    @staticmethod
    def delivery_to_dict(record: DeliveryRecord, with_attempts: bool = True) -> dict[str, Any]:
        data = {"id": record.id, "webhook_id": record.webhook_id, "event_id": record.event_id,
                "event_type": record.event_type, "status": record.status,
                "attempt_count": int(record.attempt_count or 0),
                "max_attempts": int(record.max_attempts), "next_attempt_at": record.next_attempt_at,
                "dead_letter_id": record.dead_letter_id, "skipped_reason": record.skipped_reason,
                "created_at": record.created_at,
                "updated_at": record.updated_at}
        if with_attempts:
            data["attempts"] = record.attempts or []
            data["payload"] = json.loads(record.payload)
        return data

    def delivery(self, dlv_id: str) -> dict[str, Any]:
        return self.delivery_to_dict(self._require_delivery(dlv_id))

    def _require_delivery(self, dlv_id: str) -> DeliveryRecord:
        record = self._deliveries.get(dlv_id) if dlv_id.startswith("dlv_") else None
        if record is None:
            raise NotFound(f"No delivery {dlv_id}.")
        return record

    def deliveries(self, webhook_id: str, status: str | None, event_type: str | None,
                   limit: int, before: str | None) -> tuple[list[dict[str, Any]], str | None]:
        self.require(webhook_id)
        records, last = self._deliveries.list(webhook_id, status, event_type, limit, before)
        return [self.delivery_to_dict(r, with_attempts=False) for r in records], last

    def redeliver(self, dlv_id: str) -> dict[str, Any]:
        """Send a finished delivery again, with the same ``webhook-id`` (the receiver's key)."""
        record = self._require_delivery(dlv_id)
        endpoint = self.require(record.webhook_id)
        now = self._clock()
        self._deliveries.reopen(record, int(endpoint.max_attempts), to_iso(now))
        self._enqueue(dlv_id, int(record.attempt_count) + 1, now, now)
        return self.delivery(dlv_id)

    def recover(self, webhook_id: str, since: datetime) -> dict[str, Any]:
        """Send again every failed or skipped delivery since a time; the answer counts what was
        queued. A disabled endpoint would refuse them all: enable it first."""
        endpoint = self.require(webhook_id)
        if endpoint.enabled != "true":
            raise Conflict(f"Webhook {webhook_id} is disabled ({endpoint.disabled_reason or 'by hand'}"
                           "); enable it (PUT with enabled: true), then recover.")
        failed = self._deliveries.failed_since(webhook_id, to_iso(since), MAX_RECOVER)
        for record in failed:
            self.redeliver(record.id)
        return {"webhook_id": webhook_id, "since": to_iso(since), "redelivered": len(failed)}
