"""The event catalog and the event envelope.

Every event Conductor emits is listed here, in four categories; the same envelope is the webhook
payload (Standard Webhooks), the WebSocket message and the timeline item.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.ids import from_ms, new_id
from chalicelib.domain.timeutil import to_iso


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name, its category, what it means and the fields of its ``data``.

    ``fields`` maps a field to its JSON type (``string``, ``integer``, ``number``, ``boolean``,
    ``object``, ``array``), ``|null`` when it may be null; a name starting with ``?`` may be
    absent. The OpenAPI document's ``webhooks`` section is built from it, and every event made is
    checked against it (a mismatch is logged: tests fail on it).
    """

    name: str
    category: str
    description: str
    fields: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


CATEGORIES = ("errors", "schedules", "webhooks", "system")
BREAKER = {"service": "string", "state": "string", "window": "object", "failure_rate": "number"}
RUN = {
    "schedule_id": "string",
    "execution_id": "string",
    "scheduled_for": "string",
    "trigger": "string",
    "status_code": "integer|null",
    "duration_ms": "number|null",
}
KEY = {"key_id": "string", "name": "string", "role": "string"}

CATALOG: tuple[EventType, ...] = (
    EventType(
        "error.created",
        "errors",
        "A failed operation was handed over for retrying.",
        {
            "retry_job_id": "string",
            "service": "string",
            "error": "object",
            "next_attempt_at": "string|null",
            "workflow_id": "string|null",
        },
    ),
    EventType(
        "error.retry",
        "errors",
        "One retry attempt ran, successfully or not.",
        {
            "retry_job_id": "string",
            "service": "string",
            "attempt": "integer",
            "outcome": "string",
            "status_code": "integer|null",
            "error_type": "string|null",
        },
    ),
    EventType(
        "error.succeeded",
        "errors",
        "A retry attempt succeeded; the job is done.",
        {"retry_job_id": "string", "service": "string", "attempts": "integer"},
    ),
    EventType(
        "error.dead_lettered",
        "errors",
        "A job gave up and entered the dead-letter queue.",
        {
            "dead_letter_id": "string",
            "source": "string",
            "service": "string",
            "retry_job_id": "string|null",
            "fingerprint": "string",
            "error": "object",
        },
    ),
    EventType(
        "error.resolved",
        "errors",
        "A job or dead letter was resolved by hand.",
        {"?retry_job_id": "string", "?dead_letter_id": "string", "?service": "string", "note": "string|null"},
    ),
    EventType(
        "error.replayed",
        "errors",
        "A dead letter was replayed as a new retry job.",
        {"dead_letter_id": "string", "retry_job_id": "string"},
    ),
    EventType("circuit.opened", "errors", "A service's circuit breaker opened.", BREAKER),
    EventType("circuit.half_opened", "errors", "A breaker let trial calls through.", BREAKER),
    EventType("circuit.closed", "errors", "A breaker closed again.", BREAKER),
    EventType(
        "schedule.created",
        "schedules",
        "A schedule was created.",
        {"schedule_id": "string", "name": "string", "next_run_at": "string|null"},
    ),
    EventType(
        "schedule.updated",
        "schedules",
        "A schedule was changed.",
        {"schedule_id": "string", "version": "integer"},
    ),
    EventType("schedule.deleted", "schedules", "A schedule was deleted.", {"schedule_id": "string"}),
    EventType(
        "schedule.paused",
        "schedules",
        "A schedule was paused: by hand (reason manual), after failed runs in a row "
        "(failures), or when its limited actions were used up (remaining_actions).",
        {"schedule_id": "string", "note": "string|null", "reason": "string", "?failures": "integer"},
    ),
    EventType(
        "schedule.resumed",
        "schedules",
        "A schedule was resumed.",
        {"schedule_id": "string", "note": "string|null"},
    ),
    EventType("schedule.executed", "schedules", "A schedule run succeeded.", RUN),
    EventType(
        "schedule.failed",
        "schedules",
        "A schedule run failed.",
        {**RUN, "error": "object", "retry_job_id": "string|null"},
    ),
    EventType(
        "schedule.skipped",
        "schedules",
        "A schedule run was skipped (overlap policy).",
        {"schedule_id": "string", "execution_id": "string", "scheduled_for": "string"},
    ),
    EventType(
        "webhook.created",
        "webhooks",
        "A webhook endpoint was created.",
        {"webhook_id": "string", "url": "string"},
    ),
    EventType("webhook.updated", "webhooks", "A webhook endpoint was changed.", {"webhook_id": "string"}),
    EventType("webhook.deleted", "webhooks", "A webhook endpoint was deleted.", {"webhook_id": "string"}),
    EventType(
        "webhook.disabled",
        "webhooks",
        "An endpoint was disabled (410 or by hand).",
        {"webhook_id": "string", "reason": "string"},
    ),
    EventType("webhook.test", "webhooks", "A test event sent to one endpoint.", {"webhook_id": "string"}),
    EventType(
        "webhook.delivered",
        "webhooks",
        "A delivery reached its endpoint.",
        {
            "webhook_id": "string",
            "delivery_id": "string",
            "event_id": "string",
            "event_type": "string",
            "attempts": "integer",
            "status_code": "integer",
            "duration_ms": "number",
        },
    ),
    EventType(
        "webhook.failed",
        "webhooks",
        "A delivery gave up after its last attempt.",
        {
            "webhook_id": "string",
            "delivery_id": "string",
            "event_id": "string",
            "error": "object",
            "attempts": "integer",
        },
    ),
    EventType(
        "metrics.updated",
        "system",
        "Metric windows changed (at most once a minute).",
        {"window_start": "string", "totals": "object"},
    ),
    EventType(
        "system.health_changed",
        "system",
        "A dependency went down or came back.",
        {"status": "string", "down": "array", "went_down": "array", "came_back": "array"},
    ),
    EventType(
        "system.work_recovered",
        "system",
        "Work whose next step was overdue (its message lost, or its worker gone) was put "
        "back on its way by the reconciler.",
        {
            "kind": "string",
            "id": "string",
            "status": "string",
            "attempt": "integer",
            "due_at": "string",
            "overdue_seconds": "number",
        },
    ),
    EventType("api_key.created", "system", "An API key was created.", KEY),
    EventType("api_key.revoked", "system", "An API key was revoked.", KEY),
)

CATALOG_BY_NAME: dict[str, EventType] = {t.name: t for t in CATALOG}

#: Clients may publish their own events under this prefix (target type ``event``).
CUSTOM_PREFIX = "custom."
#: A client's own event type: ``custom.`` and 1-4 lowercase segments (the API's schema uses it).
CUSTOM_TYPE_PATTERN = r"^custom(\.[a-z0-9_]{1,40}){1,4}$"
#: What a subscription names: ``*``, a type, or a prefix wildcard such as ``schedule.*``.
SUBSCRIPTION_PATTERN = r"^(\*|[a-z0-9_]{1,40}(\.[a-z0-9_]{1,40}){0,4}(\.\*)?)$"
_CUSTOM_RE = re.compile(CUSTOM_TYPE_PATTERN)
_PATTERN_RE = re.compile(SUBSCRIPTION_PATTERN)


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


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list, tuple),
    "null": (type(None),),
}
log = logging.getLogger("conductor.events.schema")


def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of a catalog type's ``data`` (any object for ``custom.*`` types)."""
    known = CATALOG_BY_NAME.get(event_type)
    if known is None:
        return {"type": "object", "description": "Whatever the publisher sent."}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, kind in known.fields.items():
        key = name.removeprefix("?")
        kinds = kind.split("|")
        properties[key] = {"type": kinds[0] if len(kinds) == 1 else kinds}
        if not name.startswith("?"):
            required.append(key)
    return {"type": "object", "properties": properties, "required": required}


def data_problems(event_type: str, data: dict[str, Any]) -> list[str]:
    """Where ``data`` differs from the catalog's declaration (extra fields are allowed)."""
    known = CATALOG_BY_NAME.get(event_type)
    if known is None:
        return []
    problems = []
    for name, kind in known.fields.items():
        key = name.removeprefix("?")
        if key not in data:
            if not name.startswith("?"):
                problems.append(f"{key}: missing")
            continue
        value = data[key]
        allowed = [t for k in kind.split("|") for t in _JSON_TYPES[k]]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, tuple(allowed)):
            problems.append(f"{key}: {type(value).__name__} is not {kind}")
    return problems


def make_event(event_type: str, data: dict[str, Any], now: datetime) -> Event:
    """A new event made at ``now``; the id's time part is the same instant as the timestamp.

    Data that differs from the catalog's declaration is still published (never lost), and logged:
    the documented webhook payloads would be wrong.
    """
    if not is_known_type(event_type):
        raise ValueError(f"unknown event type {event_type!r}")
    problems = data_problems(event_type, data)
    if problems:
        log.warning(
            "event data differs from the catalog",
            extra={"fields": {"event_type": event_type, "problems": problems}},
        )
    now_ms = int(now.timestamp() * 1000)
    return Event(
        id=new_id("evt", now_ms=now_ms), type=event_type, timestamp=to_iso(from_ms(now_ms)), data=data
    )
