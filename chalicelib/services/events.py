"""The event bus: record every event in the timeline, then queue it for fan-out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import outbox as outboxes
from chalicelib.domain.events import Event, make_event
from chalicelib.domain.timeutil import utcnow
from chalicelib.errors import DependencyUnavailable, PayloadTooLarge, ValidationFailed
from chalicelib.store.common import Write
from chalicelib.store.events import EventPage, EventStore, encode_event
from chalicelib.store.queues import Queue

log = logging.getLogger("conductor.events")
#: An event is a webhook body and a WebSocket message: keep it well under both limits.
MAX_EVENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Staged:
    """An event made but not yet published, and its timeline write."""

    event: Event
    expires_at: int
    write: Write


class EventBus:
    """``publish`` writes the timeline first (the source of truth for replay and ``resume``), then
    sends the event to the ``events`` queue whose handler feeds webhooks and WebSockets."""

    def __init__(
        self,
        store: EventStore,
        sqs: Any,
        queue_url: Callable[[], str],
        ttl_days: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._queue = Queue(sqs, queue_url, "events")
        self._ttl = timedelta(days=ttl_days)
        self._clock = clock

    def publish(self, event_type: str, data: dict[str, Any]) -> Event:
        """Record and queue an event; within an open outbox (``outbox.py``), when it is written."""
        staged = self.stage(event_type, data)
        outbox = outboxes.current()
        if outbox is not None:
            outbox.add(staged.event, staged.expires_at)
            return staged.event
        self._store.put(staged.event, expires_at=staged.expires_at)
        self._send_or_leave([staged.event])
        return staged.event

    def stage(self, event_type: str, data: dict[str, Any]) -> Staged:
        """An event to be written together with what it is about (``staged.write`` in that
        transaction), then handed to ``published``."""
        now = self._clock()
        event = make_event(event_type, data, now)
        size = len(encode_event(event).encode())
        if size > MAX_EVENT_BYTES:
            raise PayloadTooLarge(
                f"The event is {size} bytes; events (webhook payloads) may be {MAX_EVENT_BYTES}.",
                [{"field": "data", "problem": f"must serialize to at most {MAX_EVENT_BYTES} bytes"}],
            )
        expires_at = int((now + self._ttl).timestamp())
        return Staged(event, expires_at, self._store.put_write(event, expires_at))

    def published(self, staged: Staged) -> None:
        """A staged event is in the timeline: queue it (with the outbox's, if one is open)."""
        outbox = outboxes.current()
        if outbox is not None:
            outbox.add(staged.event, staged.expires_at, written=True)
        else:
            self._send_or_leave([staged.event])

    def write(self, outbox: outboxes.Outbox) -> None:
        """What an outbox collected: 25 events a BatchWriteItem, 10 a SendMessageBatch (the
        timeline first, as ``publish`` does; staged events are there already)."""
        if outbox.events:
            unwritten = [(e, x) for e, x in outbox.events if e.id not in outbox.written]
            if unwritten:
                self._store.put_many(unwritten)
            self._send([event for event, _ in outbox.events])

    def _send_or_leave(self, events: list[Event]) -> None:
        """Queue events that are in the timeline; if the queue cannot be reached they stay due
        there, and the reconciler sends them (the publish is accepted all the same)."""
        try:
            self._send(events)
        except DependencyUnavailable:
            log.warning(
                "events %s are in the timeline but not queued; the reconciler sends them",
                [e.id for e in events],
            )

    def resend(self, events: list[Event]) -> None:
        """The reconciler's: events in the timeline whose fan-out never happened."""
        self._send(events)

    def _send(self, events: list[Event]) -> None:
        """The events to the fan-out queue (10 a call), with their type as an attribute."""
        self._queue.send_entries(
            [
                {
                    "MessageBody": encode_event(event),
                    "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": event.type}},
                }
                for event in events
            ]
        )

    def get(self, event_id: str) -> Event | None:
        return self._store.get(event_id, int(self._clock().timestamp()))

    def list(
        self,
        limit: int,
        start: datetime | None = None,
        end: datetime | None = None,
        event_type: str | None = None,
        position: dict[str, str] | None = None,
    ) -> EventPage:
        """Newest first within ``[start, end]``; the range defaults to the retention period."""
        now = self._clock()
        end = min(end or now, now)
        start = max(start or now - self._ttl, now - self._ttl)
        if start > end:
            raise ValidationFailed(
                "The time range is empty.", [{"field": "from", "problem": "must not be after 'to'"}]
            )
        if position is not None:
            wanted = {"t"} if event_type else ({"m"} if "m" in position else {"d"})
            if (
                not wanted <= position.keys()
                or (event_type and position["t"] != event_type)
                or not all(isinstance(v, str) for v in position.values())
            ):
                raise ValidationFailed(
                    "The cursor belongs to another query.",
                    [{"field": "cursor", "problem": "must come from the same filters"}],
                )
        return self._store.list(
            start, end, limit, int(now.timestamp()), event_type=event_type, position=position
        )
