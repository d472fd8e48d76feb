"""Health: is every table and queue Conductor depends on reachable and active?"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("conductor.health")


class HealthChecker:
    """One DescribeTable per table and one GetQueueUrl per queue, run in parallel."""

    def __init__(
        self,
        dynamodb: Any,
        sqs: Any,
        tables: Mapping[str, str],
        queues: Mapping[str, str],
        state: Any = None,
        publish: Callable[[str, dict[str, Any]], Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._dynamodb = dynamodb
        self._sqs = sqs
        self._tables = tables
        self._queues = queues
        self._state = state
        self._publish = publish
        self._clock = clock

    def watch(self) -> dict[str, Any] | None:
        """Check, compare with what the last tick saw, and publish ``system.health_changed``
        when a dependency went down or came back (once: the state is replaced conditionally)."""
        assert self._state is not None and self._publish is not None and self._clock is not None
        report = self.check()
        down = sorted(report["down"])
        now = self._clock()
        try:
            previous = self._state.get()
            if previous is not None and down == previous:
                return None
            stored = self._state.replace(previous, down, now.isoformat(), int(now.timestamp()))
            if not stored or (previous is None and not down):
                return None  # another tick noticed it first; or the first look, all well
        except Exception as exc:  # noqa: BLE001 - the state's own table may be what is down
            log.warning("health state unavailable: %s", exc)
            return None
        change = {
            "status": report["status"],
            "down": down,
            "went_down": sorted(set(down) - set(previous or [])),
            "came_back": sorted(set(previous or []) - set(down)),
        }
        self._publish("system.health_changed", change)
        return change

    def _table(self, logical: str) -> dict[str, Any]:
        name = self._tables[logical]
        try:
            status = self._dynamodb.describe_table(TableName=name)["Table"]["TableStatus"]
        except (ClientError, BotoCoreError) as exc:
            return _down("table", logical, name, exc)
        state = "ok" if status in ("ACTIVE", "UPDATING") else "down"
        return {"kind": "table", "name": logical, "resource": name, "status": state, "detail": status}

    def _queue(self, logical: str) -> dict[str, Any]:
        name = self._queues[logical]
        try:
            self._sqs.get_queue_url(QueueName=name)
        except (ClientError, BotoCoreError) as exc:
            return _down("queue", logical, name, exc)
        return {"kind": "queue", "name": logical, "resource": name, "status": "ok", "detail": None}

    def check(self) -> dict[str, Any]:
        jobs = [(self._table, t) for t in self._tables] + [(self._queue, q) for q in self._queues]
        with ThreadPoolExecutor(max_workers=8) as pool:
            components = list(pool.map(lambda job: job[0](job[1]), jobs))
        down = [c for c in components if c["status"] != "ok"]
        return {
            "status": "ok" if not down else "degraded",
            "components": components,
            "down": [f"{c['kind']}:{c['name']}" for c in down],
        }


def _down(kind: str, logical: str, name: str, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ClientError):
        detail = exc.response.get("Error", {}).get("Code", "error")
    else:
        detail = type(exc).__name__
    return {"kind": kind, "name": logical, "resource": name, "status": "down", "detail": detail}
