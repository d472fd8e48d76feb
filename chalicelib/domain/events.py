"""The event catalog and the event envelope.

Every event Conductor emits is listed here, in four categories; the same envelope is the webhook
payload (Standard Webhooks), the WebSocket message and the timeline item.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.ids import from_ms, new_id
from chalicelib.domain.timeutil import to_iso


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name, its category and what it means."""

    name: str
    category: str
    description: str


CATEGORIES = ("errors", "schedules", "webhooks", "system")

CATALOG: tuple[EventType, ...] = (
    EventType("error.created", "errors", "A failed operation was handed over for retrying."),
    EventType("error.retry", "errors", "One retry attempt ran, successfully or not."),
    EventType("error.succeeded", "errors", "A retry attempt succeeded; the job is done."),
    EventType("error.dead_lettered", "errors", "A job gave up and entered the dead-letter queue."),
    EventType("error.resolved", "errors", "A job or dead letter was resolved by hand."),
    EventType("error.replayed", "errors", "A dead letter was replayed as a new retry job."),
    EventType("circuit.opened", "errors", "A service's circuit breaker opened."),
    EventType("circuit.half_opened", "errors", "A breaker let trial calls through."),
    EventType("circuit.closed", "errors", "A breaker closed again."),
    EventType("schedule.created", "schedules", "A schedule was created."),
    EventType("schedule.updated", "schedules", "A schedule was changed."),
    EventType("schedule.deleted", "schedules", "A schedule was deleted."),
    EventType("schedule.paused", "schedules", "A schedule was paused."),
    EventType("schedule.resumed", "schedules", "A schedule was resumed."),
    EventType("schedule.executed", "schedules", "A schedule run succeeded."),
    EventType("schedule.failed", "schedules", "A schedule run failed."),
    EventType("schedule.skipped", "schedules", "A schedule run was skipped (overlap policy)."),
    EventType("webhook.created", "webhooks", "A webhook endpoint was created."),
    EventType("webhook.updated", "webhooks", "A webhook endpoint was changed."),
    EventType("webhook.deleted", "webhooks", "A webhook endpoint was deleted."),
    EventType("webhook.disabled", "webhooks", "An endpoint was disabled (410 or by hand)."),
    EventType("webhook.test", "webhooks", "A test event sent to one endpoint."),
    EventType("webhook.delivered", "webhooks", "A delivery reached its endpoint."),
    EventType("webhook.failed", "webhooks", "A delivery gave up after its last attempt."),
    EventType("metrics.updated", "system", "Metric windows changed (at most once a minute)."),
    EventType("system.health_changed", "system", "A dependency went down or came back."),
    EventType("api_key.created", "system", "An API key was created."),
    EventType("api_key.revoked", "system", "An API key was revoked."),
)

CATALOG_BY_NAME: dict[str, EventType] = {t.name: t for t in CATALOG}

#: Clients may publish their own events under this prefix (target type ``event``).
CUSTOM_PREFIX = "custom."
_CUSTOM_RE = re.compile(r"^custom(\.[a-z0-9_]{1,40}){1,4}$")
_PATTERN_RE = re.compile(r"^(\*|[a-z0-9_]{1,40}(\.[a-z0-9_]{1,40}){0,4}(\.\*)?)$")


def is_known_type(name: str) -> bool:
    """A catalog type or a well-formed ``custom.*`` type."""
    return name in CATALOG_BY_NAME or bool(_CUSTOM_RE.match(name))


def is_valid_pattern(pattern: str) -> bool:
    """``*``, an exact type, or a prefix wildcard like ``schedule.*`` (the star only at the end)."""
    return bool(_PATTERN_RE.match(pattern))


def matching_patterns(event_type: str) -> list[str]:
    """Every subscription pattern that matches ``event_type``, most specific first.

    ``webhook.delivery.failed`` is matched by itself, ``webhook.delivery.*``, ``webhook.*`` and
    ``*``; a subscriber index keyed by pattern is then read with one query per pattern instead of
    scanning every subscriber.
    """
    parts = event_type.split(".")
    patterns = [event_type]
    patterns += [".".join(parts[:i]) + ".*" for i in range(len(parts) - 1, 0, -1)]
    patterns.append("*")
    return patterns


def pattern_matches(pattern: str, event_type: str) -> bool:
    return pattern in matching_patterns(event_type)


@dataclass(frozen=True)
class Event:
    """The envelope: ``{"id", "type", "timestamp", "data"}``."""

    id: str
    type: str
    timestamp: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "timestamp": self.timestamp, "data": self.data}


def make_event(event_type: str, data: dict[str, Any], now: datetime) -> Event:
    """A new event made at ``now``; the id's time part is the same instant as the timestamp."""
    if not is_known_type(event_type):
        raise ValueError(f"unknown event type {event_type!r}")
    now_ms = int(now.timestamp() * 1000)
    return Event(
        id=new_id("evt", now_ms=now_ms), type=event_type, timestamp=to_iso(from_ms(now_ms)), data=data
    )
