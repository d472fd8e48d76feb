"""Helpers every store shares: conditional-failure detection, newest-first index pages, and
writes to several tables that take effect together."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import DependencyUnavailable


def conditional_failure(exc: PynamoDBException) -> bool:
    """Whether a write failed its condition (someone else changed the item first)."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def page_of(records: Iterable[Any], limit: int, key: str = "created_sk") -> tuple[list[Any], str | None]:
    """Take up to ``limit`` records; the position is the last one's ``key`` if more remain.

    Queries ask for ``limit + 1`` items so that a full page knows whether another follows.
    """
    items: list[Any] = []
    for record in records:
        if len(items) == limit:
            return items, getattr(items[-1], key)
        items.append(record)
    return items, None


def unavailable(table: str) -> DependencyUnavailable:
    return DependencyUnavailable(f"The {table} table could not be reached.")


def save_once(record: Any, key_attribute: Any, table: str, reread: Callable[[], Any]) -> tuple[Any, bool]:
    """Create ``record`` unless its key exists (the first writer wins); return the stored item
    and whether this call created it. Derived keys make repeated deliveries write once."""
    try:
        # Condition: nothing with this key yet.
        record.save(condition=key_attribute.does_not_exist())
        return record, True
    except PutError as exc:
        if not conditional_failure(exc):
            raise unavailable(table) from exc
    return (reread() or record), False


@dataclass(frozen=True)
class Write:
    """One put of a transaction, made by the store that owns the record; ``name`` says what its
    condition failing means to the caller."""

    record: Any
    condition: Any = None
    name: str = ""
    delete: bool = False  # take the record away instead (undoing an earlier transaction)
    #: update the record's item with these actions instead of putting it whole
    actions: list[Any] | None = None

    def undo(self) -> Write:
        return Write(self.record, None, self.name, delete=True)


def transact(writes: list[Write], table: str) -> str | None:
    """Put (or delete) every record or none, in one TransactWriteItems (up to 100, across
    tables).

    Returns the name of the write whose condition failed (nothing was written), or None.
    """
    failed = transact_all(writes, table)
    return failed[0] if failed else None


def transact_all(writes: list[Write], table: str) -> list[str]:
    """``transact``, answering the names of every write whose condition failed (none: all
    written)."""
    connection = writes[0].record._get_connection().connection  # the one shared client
    try:
        with TransactWrite(connection=connection) as transaction:
            for write in writes:
                if write.delete:
                    transaction.delete(write.record, condition=write.condition)
                elif write.actions is not None:
                    transaction.update(write.record, write.actions, condition=write.condition)
                else:
                    transaction.save(write.record, condition=write.condition)
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            failed = [
                write.name
                for write, reason in zip(writes, exc.cancellation_reasons, strict=False)
                if reason is not None and reason.code == "ConditionalCheckFailed"
            ]
            if failed:
                return failed
        raise unavailable(table) from exc
    return []
