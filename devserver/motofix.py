"""moto's DynamoDB, made safe for concurrent transactions (tests, bench and ``make run`` only).

moto's TransactWriteItems deep-copies every table it touches (to roll back on a failed
condition); another thread writing to that table during the copy fails the transaction with
``RuntimeError: dictionary changed size during iteration`` — a 500 on a local batch route that
creates retry jobs 10 at a time. DynamoDB has no such limit. Every moto DynamoDB action takes one
lock here, so moto sees them one at a time, as its model of a table assumes.
"""
from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB handle one action at a time (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    original = DynamoHandler.call_action
    if getattr(original, "conductor_serialized", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    call_action.conductor_serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
