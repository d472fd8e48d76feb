"""One class per resource of the API; each method is one operation (see /docs for the fields).

Answers are the API's JSON objects as dicts; lists are iterators that fetch page after page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from conductor_client._http import Transport

Item = dict[str, Any]
Target = dict[str, Any]
RetryPolicy = dict[str, Any]


def _iso(value: str | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _batch(items: list[Any]) -> Item:
    return {"items": items}


class _Resource:
    def __init__(self, http: Transport) -> None:
        self._http = http


class Schedules(_Resource):
    """Cron, rate and one-time schedules, their runs and history."""

    def create(
        self,
        name: str,
        expression: str,
        target: Target,
        *,
        timezone: str = "UTC",
        retry_policy: RetryPolicy | None = None,
        enabled: bool = True,
        **fields: Any,
    ) -> Item:
        """``expression``: ``cron(0 9 * * 1-5)``, ``rate(5 minutes)`` or ``at(2026-12-01T09:00:00)``;
        ``fields``: description, start_at, end_at, jitter_seconds, overlap_policy (skip, allow,
        buffer_one, buffer_all), catchup, catchup_window_seconds, tags, pause_after_failures,
        flexible_time_window (``{"mode": "FLEXIBLE", "maximum_window_minutes": 30}``),
        action_after_completion (none, delete), remaining_actions, history_limits
        (``{"succeeded": 10, "failed": 50}``)."""
        body = {
            "name": name,
            "expression": expression,
            "target": target,
            "timezone": timezone,
            "enabled": enabled,
            **fields,
        }
        if retry_policy is not None:
            body["retry_policy"] = retry_policy
        return self._http.request("POST", "/schedules", json_body=body)

    def list(
        self, *, enabled: bool | None = None, tag: str | None = None, limit: int | None = None
    ) -> Iterator[Item]:
        return self._http.pages("/schedules", {"enabled": enabled, "tag": tag}, limit)

    def get(self, schedule_id: str) -> Item:
        return self._http.request("GET", f"/schedules/{schedule_id}")

    def update(self, schedule_id: str, fields: Item, *, version: int | None = None) -> Item:
        """Replace a schedule; ``version`` (or the one in ``fields``) guards a concurrent edit."""
        body = {k: v for k, v in fields.items() if k in _SCHEDULE_WRITABLE}
        if version is not None:
            body["version"] = version
        return self._http.request("PUT", f"/schedules/{schedule_id}", json_body=body)

    def delete(self, schedule_id: str) -> None:
        self._http.request("DELETE", f"/schedules/{schedule_id}")

    def pause(self, schedule_id: str, note: str | None = None) -> Item:
        return self._http.request("POST", f"/schedules/{schedule_id}/pause", json_body={"note": note})

    def resume(self, schedule_id: str) -> Item:
        return self._http.request("POST", f"/schedules/{schedule_id}/resume")

    def run(self, schedule_id: str) -> Item:
        """Run now; answers the execution (status ``pending``), which the history then shows."""
        return self._http.request("POST", f"/schedules/{schedule_id}/execute")

    def backfill(
        self,
        schedule_id: str,
        start: str | datetime,
        end: str | datetime,
        *,
        overlap_policy: str | None = None,
    ) -> Item:
        """Run the times of a past range now; ``overlap_policy`` for these runs only (else the
        schedule's)."""
        body: Item = {"from": _iso(start), "to": _iso(end)}
        if overlap_policy is not None:
            body["overlap_policy"] = overlap_policy
        return self._http.request("POST", f"/schedules/{schedule_id}/backfill", json_body=body)

    def history(self, schedule_id: str, *, limit: int | None = None) -> Iterator[Item]:
        return self._http.pages(f"/schedules/{schedule_id}/history", None, limit)

    def preview(self, expression: str, *, timezone: str = "UTC", count: int = 5) -> list[str]:
        return self._http.request(
            "POST",
            "/schedules/preview",
            json_body={"expression": expression, "timezone": timezone, "count": count},
        )["next_runs"]

    def run_many(self, schedule_ids: list[str]) -> Item:
        return self._http.request(
            "POST", "/batch/schedules/execute", json_body=_batch([{"id": i} for i in schedule_ids])
        )

    def pause_many(self, schedule_ids: list[str], note: str | None = None) -> Item:
        """Up to 100 at once; each answered on its own in ``results``."""
        return self._http.request(
            "POST",
            "/batch/schedules/pause",
            json_body=_batch([{"id": i, "note": note} for i in schedule_ids]),
        )

    def resume_many(self, schedule_ids: list[str]) -> Item:
        return self._http.request(
            "POST", "/batch/schedules/resume", json_body=_batch([{"id": i} for i in schedule_ids])
        )


#: what a PUT takes (an allow-list: a field added to answers is never sent back)
_SCHEDULE_WRITABLE = frozenset(
    {
        "name",
        "description",
        "expression",
        "timezone",
        "start_at",
        "end_at",
        "jitter_seconds",
        "overlap_policy",
        "catchup",
        "catchup_window_seconds",
        "enabled",
        "target",
        "retry_policy",
        "tags",
        "pause_after_failures",
        "flexible_time_window",
        "action_after_completion",
        "remaining_actions",
        "history_limits",
        "version",
    }
)


class Retries(_Resource):
    """Failed operations handed over for retrying, with backoff and a circuit breaker."""

    def create(
        self,
        service: str,
        target: Target,
        error: Item,
        *,
        retry_policy: RetryPolicy | None = None,
        idempotency_key: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
    ) -> Item:
        """``error``: ``{"type": "Timeout", "message": "..."}`` (what failed, as you saw it)."""
        body: Item = {"service": service, "target": target, "error": error}
        for name, value in (
            ("retry_policy", retry_policy),
            ("idempotency_key", idempotency_key),
            ("workflow_id", workflow_id),
            ("execution_id", execution_id),
        ):
            if value is not None:
                body[name] = value
        return self._http.request("POST", "/errors/retry", json_body=body)

    def list(
        self, *, status: str | None = None, service: str | None = None, limit: int | None = None
    ) -> Iterator[Item]:
        return self._http.pages("/errors/retry", {"status": status, "service": service}, limit)

    def get(self, job_id: str) -> Item:
        return self._http.request("GET", f"/errors/retry/{job_id}")

    def attempts(self, job_id: str, *, limit: int | None = None) -> Iterator[Item]:
        return self._http.pages(f"/errors/retry/{job_id}/attempts", None, limit)

    def resolve(self, job_id: str, note: str | None = None) -> Item:
        return self._http.request("POST", "/errors/resolve", json_body={"id": job_id, "note": note})

    def stats(self, *, start: str | datetime | None = None, end: str | datetime | None = None) -> Item:
        return self._http.request("GET", "/errors/stats", params={"from": _iso(start), "to": _iso(end)})

    def create_many(self, jobs: list[Item]) -> Item:
        return self._http.request("POST", "/batch/errors/retry", json_body=_batch(jobs))


class Breakers(_Resource):
    """The circuit breaker of each downstream service."""

    def list(self, *, limit: int | None = None) -> Iterator[Item]:
        return self._http.pages("/errors/circuit-breakers", None, limit)

    def get(self, service: str) -> Item:
        return self._http.request("GET", f"/errors/circuit-breaker/{service}")

    def command(self, service: str, action: Literal["reset", "force_open", "force_close"]) -> Item:
        return self._http.request("POST", f"/errors/circuit-breaker/{service}", json_body={"action": action})


class DeadLetters(_Resource):
    """What gave up: browse, resolve with a note, or replay as a new retry job."""

    def list(
        self,
        *,
        status: str = "open",
        source: str | None = None,
        service: str | None = None,
        fingerprint: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Item]:
        return self._http.pages(
            "/dlq",
            {"status": status, "source": source, "service": service, "fingerprint": fingerprint},
            limit,
        )

    def get(self, dead_letter_id: str) -> Item:
        return self._http.request("GET", f"/dlq/{dead_letter_id}")

    def replay(self, dead_letter_id: str) -> Item:
        """Answers the new retry job."""
        return self._http.request("POST", f"/dlq/{dead_letter_id}/replay")

    def resolve(self, dead_letter_id: str, note: str | None = None) -> Item:
        return self._http.request("POST", f"/dlq/{dead_letter_id}/resolve", json_body={"note": note})

    def replay_many(self, ids: list[str]) -> Item:
        return self._http.request("POST", "/batch/dlq/replay", json_body=_batch([{"id": i} for i in ids]))

    def resolve_many(self, ids: list[str], note: str | None = None) -> Item:
        return self._http.request(
            "POST", "/batch/dlq/resolve", json_body=_batch([{"id": i, "note": note} for i in ids])
        )


class Webhooks(_Resource):
    """Endpoints that receive signed events (Standard Webhooks), and their deliveries."""

    def create(
        self,
        url: str,
        event_types: list[str],
        *,
        description: str | None = None,
        headers: dict[str, str] | None = None,
        enabled: bool = True,
        **fields: Any,
    ) -> Item:
        """Answers the endpoint with its ``secret`` (``whsec_...``), shown this once; ``fields``:
        rate_limit, max_attempts, retry_schedule (seconds before each retry)."""
        body: Item = {"url": url, "event_types": event_types, "enabled": enabled, **fields}
        if description is not None:
            body["description"] = description
        if headers:
            body["headers"] = headers
        return self._http.request("POST", "/webhooks", json_body=body)

    def list(self, *, limit: int | None = None) -> Iterator[Item]:
        return self._http.pages("/webhooks", None, limit)

    def get(self, webhook_id: str) -> Item:
        return self._http.request("GET", f"/webhooks/{webhook_id}")

    def update(self, webhook_id: str, fields: Item) -> Item:
        body = {k: v for k, v in fields.items() if k in _WEBHOOK_WRITABLE}
        return self._http.request("PUT", f"/webhooks/{webhook_id}", json_body=body)

    def delete(self, webhook_id: str) -> None:
        self._http.request("DELETE", f"/webhooks/{webhook_id}")

    def rotate_secret(self, webhook_id: str) -> Item:
        return self._http.request("POST", f"/webhooks/{webhook_id}/rotate-secret")

    def test(self, webhook_id: str) -> Item:
        return self._http.request("POST", f"/webhooks/{webhook_id}/test")

    def deliveries(
        self,
        webhook_id: str,
        *,
        status: str | None = None,
        event_type: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Item]:
        return self._http.pages(
            f"/webhooks/{webhook_id}/deliveries", {"status": status, "event_type": event_type}, limit
        )

    def delivery(self, delivery_id: str) -> Item:
        return self._http.request("GET", f"/webhooks/deliveries/{delivery_id}")

    def redeliver(self, delivery_id: str) -> Item:
        return self._http.request("POST", f"/webhooks/deliveries/{delivery_id}/redeliver")

    def recover(self, webhook_id: str, since: str | datetime) -> Item:
        return self._http.request("POST", f"/webhooks/{webhook_id}/recover", json_body={"since": _iso(since)})


_WEBHOOK_WRITABLE = frozenset(
    {
        "url",
        "event_types",
        "description",
        "headers",
        "enabled",
        "rate_limit",
        "max_attempts",
        "retry_schedule",
    }
)


class Events(_Resource):
    """The event timeline; custom events fan out like Conductor's own."""

    def publish(self, type: str, data: Item | None = None) -> Item:
        """``type`` must start with ``custom.``; answers the published event."""
        return self._http.request("POST", "/events", json_body={"type": type, "data": data or {}})

    def list(
        self,
        *,
        type: str | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[Item]:
        return self._http.pages("/events", {"type": type, "from": _iso(start), "to": _iso(end)}, limit)

    def get(self, event_id: str) -> Item:
        return self._http.request("GET", f"/events/{event_id}")

    def types(self) -> list[Item]:
        return self._http.request("GET", "/events/types")["items"]


class ApiKeys(_Resource):
    """API keys (admin only); a key's value is answered once, at creation."""

    def create(self, name: str, role: Literal["admin", "operator", "viewer"]) -> Item:
        return self._http.request("POST", "/api-keys", json_body={"name": name, "role": role})

    def list(self, *, limit: int | None = None) -> Iterator[Item]:
        return self._http.pages("/api-keys", None, limit)

    def revoke(self, key_id: str) -> None:
        self._http.request("DELETE", f"/api-keys/{key_id}")


class Metrics(_Resource):
    def summary(self) -> Item:
        return self._http.request("GET", "/metrics/summary")

    def health(self) -> Item:
        return self._http.request("GET", "/dashboard/health")
