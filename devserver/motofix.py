"""moto's DynamoDB, made safe and fast for transactions (tests, bench and ``make run`` only).

moto's TransactWriteItems deep-copies every table it touches (to roll back on a failed
condition). Two consequences, neither DynamoDB's: another thread writing to that table during
the copy fails the transaction (``RuntimeError: dictionary changed size during iteration`` — a
500 on a local batch route that creates retry jobs 10 at a time), and each transaction costs as
much as the tables it touches hold (the local runtime slowed as its tables grew). Here every
moto DynamoDB action takes one lock (moto sees them one at a time, as its model of a table
assumes), and a transaction keeps only the items it touches to roll back.
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
    _roll_back_items_not_tables()


def _roll_back_items_not_tables() -> None:
    """TransactWriteItems snapshots the items it touches, not whole tables."""
    import copy  # noqa: PLC0415

    from moto.dynamodb import models  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    backend = models.DynamoDBBackend
    original = backend.transact_write_items

    class _TablesAsThey:
        """``copy`` for moto's module: a table is kept as it is (the items are snapshotted)."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") or {
                name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
            }
            current = self.get_item(table.name, key)
            snapshots.append(
                (table.name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None)
            )
        real_copy, models.copy = models.copy, _TablesAsThey  # under the lock: nobody else runs
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(snapshots):  # as it was, item by item
                if attributes is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise
        finally:
            models.copy = real_copy

    transact_write_items.conductor_items = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
