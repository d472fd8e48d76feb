"""The events a unit of work publishes, kept until it ends and then written together.

A Lambda invocation (an SQS batch, a tick, an HTTP request) opens one with :func:`collecting`;
``EventBus.publish`` adds to it instead of writing each event at once, and the invocation writes
them all at its end: one BatchWriteItem per 25 events and one SendMessageBatch per 10, instead of
a PutItem and a SendMessage each. Threads a batch starts with a copy of the context (as
``Deliveries.deliver_batch`` does) add to the same outbox. Light on purpose: every handler
imports it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


class Outbox:
    def __init__(self) -> None:
        self.events: list[tuple[Any, int]] = []  # (event, expires_at)
        #: ids of events already in the timeline (written with what they are about, in one
        #: transaction): only to be sent
        self.written: set[str] = set()
        self._lock = threading.Lock()

    def add(self, event: Any, expires_at: int, written: bool = False) -> None:
        with self._lock:
            self.events.append((event, expires_at))
            if written:
                self.written.add(event.id)


_current: ContextVar[Outbox | None] = ContextVar("conductor_outbox", default=None)


def current() -> Outbox | None:
    """The outbox of the unit of work running here, if one is open."""
    return _current.get()


@contextmanager
def collecting() -> Iterator[Outbox]:
    """Open an outbox for the unit of work inside; the caller writes what it holds at the end."""
    outbox = Outbox()
    token = _current.set(outbox)
    try:
        yield outbox
    finally:
        _current.reset(token)
