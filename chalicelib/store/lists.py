"""Filtered lists that cost the same whatever is stored: a pointer per (filter combination, item).

A list filtered by fields that are not an index key (a dead letter's source, service and
fingerprint; a schedule's tags) used to read its partition and drop what did not match, so a rare
match read everything. Instead, an item belongs to one list per combination of its filter values
(``keys``), each a small item in the ``lists`` table written in the same TransactWriteItems as
the item itself, and moved with it when a value changes (``changes``). A filtered page is then
one Query of that list and one BatchGetItem of what it names.

DynamoDB adds one global secondary index per table and deploy, and none can hold a multi-valued
field such as tags: pointers need neither, and any number of filters combine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import combinations, product
from typing import Any, TypeVar
from urllib.parse import quote

from pynamodb.exceptions import PynamoDBException

from chalicelib.store.base import bind
from chalicelib.store.common import Write, page_of, unavailable
from chalicelib.store.models import ListRecord

Values = str | Iterable[str] | None
T = TypeVar("T")


def keys(kind: str, required: Mapping[str, str], optional: Mapping[str, Values]) -> set[str]:
    """Every list an item is in: ``required`` filters always, with each non-empty combination
    of the ``optional`` ones (a field with many values, such as tags, one value at a time)."""
    present = {
        name: ([value] if isinstance(value, str) else sorted(set(value)))
        for name, value in optional.items()
        if value is not None
    }
    present = {name: values for name, values in present.items() if values}
    found = set()
    for size in range(1, len(present) + 1):
        for names in combinations(sorted(present), size):
            for values in product(*(present[name] for name in names)):
                found.add(key(kind, {**required, **dict(zip(names, values, strict=True))}))
    return found


def key(kind: str, filters: Mapping[str, str]) -> str:
    """The list of items of ``kind`` with exactly these filter values."""
    return kind + "?" + "&".join(f"{name}={quote(filters[name], safe='')}" for name in sorted(filters))


class Lists:
    def __init__(self) -> None:
        self._model = bind(ListRecord, "lists")

    def _record(
        self, list_key: str, position: str, item_id: str = "", expires_at: int | None = None
    ) -> ListRecord:
        return self._model(list=list_key, position=position, id=item_id, expires_at=expires_at)

    def changes(
        self, old: set[str], new: set[str], position: str, item_id: str, expires_at: int | None = None
    ) -> list[Write]:
        """The writes that move an item from the lists ``old`` to the lists ``new``."""
        return [Write(self._record(k, position), delete=True) for k in sorted(old - new)] + [
            Write(self._record(k, position, item_id, expires_at)) for k in sorted(new - old)
        ]

    def page(self, list_key: str, limit: int, before: str | None) -> tuple[list[str], str | None]:
        """Ids in one list, newest first; the last one's position when more follow."""
        m = self._model
        try:
            found, last = page_of(
                m.query(
                    list_key,
                    m.position < before if before else None,
                    scan_index_forward=False,
                    limit=limit + 1,
                ),
                limit,
                key="position",
            )
        except PynamoDBException as exc:
            raise unavailable("lists") from exc
        return [r.id for r in found], last

    def items(
        self,
        list_key: str,
        limit: int,
        before: str | None,
        model: Any,
        table: str,
        entity: Callable[[Any], T],
    ) -> tuple[list[T], str | None]:
        """A page of one list's items themselves, newest first: a Query of the list and one
        BatchGetItem of ``model`` (an item gone by TTL before its pointer is left out)."""
        ids, last = self.page(list_key, limit, before)
        try:
            found = {r.id: entity(r) for r in model.batch_get(ids)} if ids else {}
        except PynamoDBException as exc:
            raise unavailable(table) from exc
        return [found[i] for i in ids if i in found], last
