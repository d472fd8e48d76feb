"""What needs an operator now, for the overview to lead with (failures first, not a table of
things that are fine). Every part is a bounded read, whatever the data: per-subject counts are two
Queries a metric (the reconciler's repairs among them), the paused schedules one filtered list
page, the disabled endpoints one event query and one BatchGetItem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.timeutil import to_iso, utcnow

#: how far back a failure still asks for attention, and a disabled endpoint is looked for
RECENT = timedelta(hours=24)
DISABLED_LOOKBACK = timedelta(days=7)


class Triage:
    def __init__(
        self,
        metrics: Any,
        schedules: Any,
        endpoints: Any,
        timeline: Callable[[], Any],
        clock: Callable[[], datetime] = utcnow,
        limit: int = 10,
    ) -> None:
        self._metrics = metrics
        self._schedules = schedules
        self._endpoints = endpoints
        self._timeline = timeline
        self._clock = clock
        self._limit = limit

    def report(self, breakers: list[dict[str, Any]]) -> dict[str, Any]:
        """Breakers not closed, schedules that failed or were paused, endpoints that failed or
        were disabled, worst first and at most ``limit`` of each."""
        now = self._clock()
        since = now - RECENT
        runs = self._metrics.per_subject(
            "schedules", since, now, good="runs", bad="failures", bad_within_good=True
        )["items"]
        sent = self._metrics.per_subject("webhooks", since, now, good="delivered", bad="failed")["items"]
        paused, _ = self._schedules.list(False, None, self._limit, None)
        _, recovered, _ = self._metrics.by_subject("reconciler", since, now)
        failing_endpoints = self._worst(sent, "failed")
        disabled = self._disabled(now, {r["id"] for r in failing_endpoints})
        return {
            "since": to_iso(since),
            "breakers": [b for b in breakers if b["state"] != "closed"][: self._limit],
            "failing_schedules": [
                {"id": r["id"], "name": r["name"], "runs": r["runs"], "failures": r["failures"]}
                for r in self._worst(runs, "failures")
            ],
            "paused_schedules": [{"id": s.id, "name": s.name, "note": s.paused_note} for s in paused],
            "failing_endpoints": [
                {"id": r["id"], "name": r["name"], "delivered": r["delivered"], "failed": r["failed"]}
                for r in failing_endpoints
            ],
            "disabled_endpoints": [
                {"id": e.id, "name": e.description or e.url, "url": e.url, "reason": e.disabled_reason}
                for e in disabled
            ],
            # work the reconciler found overdue (a lost message, a worker gone) and sent again
            "recovered_work": [
                {"kind": kind, "recovered": int(counts["recovered"])}
                for kind, counts in sorted(recovered.items())
                if counts["recovered"]
            ],
        }

    def _worst(self, rows: list[dict[str, Any]], bad: str) -> list[dict[str, Any]]:
        return sorted((r for r in rows if r[bad]), key=lambda r: -r[bad])[: self._limit]

    def _disabled(self, now: datetime, also: set[str]) -> list[Any]:
        """Endpoints still disabled among those disabled in the last week or failing now (an
        endpoint has no index by state: its ``webhook.disabled`` events say which to read)."""
        events = (
            self._timeline()
            .list(self._limit * 5, start=now - DISABLED_LOOKBACK, end=now, event_type="webhook.disabled")
            .events
        )
        ids = {e.data["webhook_id"] for e in events if e.data.get("webhook_id")} | also
        if not ids:
            return []
        endpoints = [e for e in self._endpoints.get_many(ids) if not e.enabled]
        return sorted(endpoints, key=lambda e: e.updated_at, reverse=True)[: self._limit]
