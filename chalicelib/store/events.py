"""The events timeline: one partition per UTC day, newest first, optionally by type.

Listing without a type walks the ``by-month`` index from the newest month in range back to the
oldest, one Query each (a 30-day range: at most 2), stopping as soon as a page is full; with a type
it is one Query on the ``by-type`` index. Reading one event by id is one Query of its day.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PynamoDBException, UpdateError

from chalicelib.domain.events import Event
from chalicelib.domain.ids import id_time
from chalicelib.domain.timeutil import epoch_of, to_iso
from chalicelib.errors import DependencyUnavailable
from chalicelib.store.base import bind
from chalicelib.store.common import Write, conditional_failure
from chalicelib.store.due import due_actions, due_fields, overdue, postpone
from chalicelib.store.models import EventRecord

#: Sorts after any "timestamp#id" of the same instant, so an upper bound includes that instant.
_HIGH = "#\uffff"


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    #: Where the next page starts: the last returned item's sort key (and day), or None.
    position: dict[str, str] | None


KIND = "event"


def _to_event(record: EventRecord) -> Event:
    return Event(id=record.id, type=record.type, timestamp=record.timestamp, data=record.data or {})


class EventStore:
    """Reads and writes timeline events."""

    def __init__(self) -> None:
        self._model = bind(EventRecord, "events")

    def _record(self, event: Event, expires_at: int) -> EventRecord:
        return self._model(
            day=event.timestamp[:10],
            sort_key=f"{event.timestamp}#{event.id}",
            id=event.id,
            type=event.type,
            timestamp=event.timestamp,
            data=event.data,
            expires_at=expires_at,
            month=event.timestamp[:7],
            **due_fields(KIND, event.id, epoch_of(event.timestamp)),
        )

    def put(self, event: Event, expires_at: int) -> None:
        try:
            self._record(event, expires_at).save()
        except PynamoDBException as exc:
            raise DependencyUnavailable("The events table could not be written.") from exc

    def put_write(self, event: Event, expires_at: int) -> Write:
        """``put`` as one write of a transaction (with the item the event is about)."""
        return Write(self._record(event, expires_at), None, "event")

    def put_many(self, events: list[tuple[Event, int]]) -> None:
        """Many events, 25 a BatchWriteItem (unprocessed items are written again)."""
        try:
            with self._model.batch_write() as batch:
                for event, expires_at in events:
                    batch.save(self._record(event, expires_at))
        except PynamoDBException as exc:
            raise DependencyUnavailable("The events table could not be written.") from exc

    def fanned_out(self, event: Event) -> None:
        """The fan-out handled it: out of the by-due index (the reconciler leaves it alone)."""
        m = self._model
        try:
            # Condition: the event exists (an update would otherwise make an item of its key).
            m(event.timestamp[:10], f"{event.timestamp}#{event.id}").update(
                actions=due_actions(m, KIND, event.id, None), condition=m.id.exists()
            )
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise DependencyUnavailable("The events table could not be written.") from exc

    def overdue(self, before: int, limit: int) -> list[tuple[Event, Any]]:
        """Events published before ``before`` and not fanned out (their message was lost)."""
        return [(_to_event(r), (r, due)) for r, due in overdue(self._model, KIND, before, limit)]

    def postpone(self, handle: Any, new_due: int) -> bool:
        record, seen = handle
        return postpone(record, KIND, record.id, seen, new_due)

    def get(self, event_id: str, now_epoch: int) -> Event | None:
        """Find an event by id alone: its id says when, hence which partition."""
        moment = id_time(event_id)
        try:
            records = list(
                self._model.query(
                    _day(moment),
                    self._model.sort_key.startswith(to_iso(moment)),
                    filter_condition=self._model.id == event_id,
                )
            )
        except PynamoDBException as exc:
            raise DependencyUnavailable("The events table could not be read.") from exc
        live = [r for r in records if r.expires_at > now_epoch]
        return _to_event(live[0]) if live else None

    def list(
        self,
        start: datetime,
        end: datetime,
        limit: int,
        now_epoch: int,
        event_type: str | None = None,
        position: dict[str, str] | None = None,
    ) -> EventPage:
        """Events with ``start <= timestamp <= end``, newest first, at most ``limit``.

        Expired items are filtered on read: DynamoDB's TTL deletes lazily (and moto never).
        """
        low = to_iso(start)
        high = to_iso(end) + _HIGH
        before = position["k"] if position else None
        if before is not None:
            high = min(high, before)
        try:
            if event_type is not None:
                return self._list_by_type(event_type, low, high, limit, now_epoch)
            # a cursor names the month it stopped in (older cursors: the day)
            month = (position.get("m") or position["d"][:7]) if position else _month(end)
            return self._list_by_month(month, _month(start), low, high, limit, now_epoch)
        except PynamoDBException as exc:
            raise DependencyUnavailable("The events table could not be read.") from exc

    def _newest_first(
        self, query_on: Any, partition: str, low: str, high: str, limit: int, now_epoch: int
    ) -> Iterator[EventRecord]:
        """Live records of one partition with ``low <= sort_key < high``, newest first."""
        for record in query_on.query(
            partition,
            self._model.sort_key.between(low, high),
            scan_index_forward=False,
            filter_condition=self._model.expires_at > now_epoch,
            page_size=limit + 1,
        ):
            if record.sort_key != high:  # "between" is inclusive; the cursor's item was sent
                yield record

    def _list_by_type(self, event_type: str, low: str, high: str, limit: int, now_epoch: int) -> EventPage:
        events: list[Event] = []
        for record in self._newest_first(self._model.by_type, event_type, low, high, limit, now_epoch):
            if len(events) == limit:
                return EventPage(events, {"t": event_type, "k": _sort_key(events[-1])})
            events.append(_to_event(record))
        return EventPage(events, None)

    def _list_by_month(
        self, month: str, first: str, low: str, high: str, limit: int, now_epoch: int
    ) -> EventPage:
        """Month partitions of the by-month index, newest first, until the page is full: a
        30-day range is 2 partitions (a Query each), however the events are spread."""
        events: list[Event] = []
        current = month
        while current >= first:
            for record in self._newest_first(self._model.by_month, current, low, high, limit, now_epoch):
                if len(events) == limit:
                    last = events[-1]
                    return EventPage(events, {"m": last.timestamp[:7], "k": _sort_key(last)})
                events.append(_to_event(record))
            current = _previous_month(current)
        return EventPage(events, None)


def _sort_key(event: Event) -> str:
    return f"{event.timestamp}#{event.id}"


def encode_event(event: Event) -> str:
    """The JSON text of an event as it travels on queues."""
    return json.dumps(event.to_dict(), separators=(",", ":"))
