"""Helpers every store shares: conditional-failure detection and newest-first index pages."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException

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


def save_once(record: Any, key_attribute: Any, table: str,
              reread: Callable[[], Any]) -> tuple[Any, bool]:
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
