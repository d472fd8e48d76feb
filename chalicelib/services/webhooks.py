"""Webhook endpoints: the URLs that subscribe to event patterns, their settings and secrets.

Deliveries to them live in ``services/deliveries.py``; both speak ``domain.webhooks`` entities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.headers import kept
from chalicelib.domain.ids import new_id
from chalicelib.domain.signing import new_secret
from chalicelib.domain.ssrf import ForbiddenTarget, OutboundGuard
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.domain.webhooks import DEFAULT_ATTEMPTS, Endpoint
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.store.webhooks import WebhookStore

ROTATION_GRACE = timedelta(hours=24)


class WebhookEndpoints:
    def __init__(
        self,
        store: WebhookStore,
        publish: Callable[[str, dict[str, Any]], Any],
        guard: OutboundGuard | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._publish = publish
        self._guard = guard or OutboundGuard()
        self._clock = clock

    def _check(self, url: str) -> None:
        try:
            self._guard.check(url)
        except ForbiddenTarget as exc:
            raise ValidationFailed(
                "This URL may not receive webhooks.", [{"field": "url", "problem": str(exc)}]
            ) from exc

    @staticmethod
    def _settings(body: dict[str, Any]) -> dict[str, Any]:
        """What a create or a replace sets, from a validated body."""
        schedule = body.get("retry_schedule")
        return {
            "url": body["url"],
            "description": body.get("description"),
            "event_types": tuple(sorted(set(body["event_types"]))),
            "enabled": bool(body.get("enabled", True)),
            "rate_limit": body.get("rate_limit"),
            "max_attempts": body.get("max_attempts") or DEFAULT_ATTEMPTS,
            "retry_schedule": tuple(schedule) if schedule else None,
        }

    def require(self, webhook_id: str) -> Endpoint:
        endpoint = self._store.get(webhook_id) if webhook_id.startswith("whk_") else None
        if endpoint is None:
            raise NotFound(f"No webhook {webhook_id}.")
        return endpoint

    def create(self, body: dict[str, Any]) -> Endpoint:
        """A new endpoint; the answer is the only one that carries its secret."""
        self._check(body["url"])
        headers = kept(body.get("headers"), None, "headers")
        now = to_iso(self._clock())
        endpoint = Endpoint(
            id=new_id("whk"),
            secret=new_secret(),
            version=1,
            created_at=now,
            updated_at=now,
            headers=headers or {},
            **self._settings(body),
        )
        self._store.save(endpoint, None, [])
        self._publish("webhook.created", {"webhook_id": endpoint.id, "url": endpoint.url})
        return endpoint

    def list(self, limit: int, before: str | None) -> tuple[list[Endpoint], str | None]:
        return self._store.list(limit, before)

    def update(self, webhook_id: str, body: dict[str, Any]) -> Endpoint:
        stored = self.require(webhook_id)
        self._check(body["url"])
        settings = self._settings(body)
        if settings["enabled"]:
            settings |= {"disabled_reason": None, "consecutive_failures": 0}
        endpoint = dataclasses.replace(
            stored,
            headers=kept(body.get("headers"), stored.headers, "headers") or {},
            version=stored.version + 1,
            updated_at=to_iso(self._clock()),
            **settings,
        )
        self._store.save(endpoint, stored.version, list(stored.event_types))
        self._publish("webhook.updated", {"webhook_id": webhook_id})
        return endpoint

    def delete(self, webhook_id: str) -> None:
        self._store.delete(self.require(webhook_id))
        self._publish("webhook.deleted", {"webhook_id": webhook_id})

    def rotate(self, webhook_id: str) -> dict[str, Any]:
        """A new secret; the previous one keeps signing (both are sent) for 24 hours."""
        endpoint = self.require(webhook_id)
        now = self._clock()
        secret = new_secret()
        self._store.update_fields(
            webhook_id,
            secret=secret,
            previous_secret=endpoint.secret,
            previous_secret_expires_at=int((now + ROTATION_GRACE).timestamp()),
            updated_at=to_iso(now),
        )
        return {
            "id": webhook_id,
            "secret": secret,
            "previous_secret_expires_at": to_iso(now + ROTATION_GRACE),
        }

    def disable(self, endpoint: Endpoint, reason: str) -> None:
        """Stop sending to an endpoint that keeps failing (or answered 410 Gone)."""
        self._store.update_fields(
            endpoint.id, enabled=False, disabled_reason=reason, updated_at=to_iso(self._clock())
        )
        self._publish("webhook.disabled", {"webhook_id": endpoint.id, "reason": reason})

    def delivered(self, endpoint: Endpoint) -> None:
        """A delivery succeeded: the endpoint's failure streak starts again."""
        if endpoint.consecutive_failures:
            self._store.update_fields(endpoint.id, consecutive_failures=0)

    def failed(self, endpoint: Endpoint, disable_after: int) -> None:
        """A delivery gave up: after ``disable_after`` in a row, the endpoint is disabled."""
        if self._store.add_failure(endpoint.id) >= disable_after:
            self.disable(endpoint, f"{disable_after} deliveries failed in a row")
