"""Each pattern's subscribers in one item, so an event's fan-out reads them in one call.

The subscriptions table keeps an item per (pattern, subscriber); reading an event's subscribers
that way is a Query per matching pattern (three for ``a.b``: ``a.b``, ``a.*``, ``*``). Beside
them, the item ``(pattern, "#all")`` holds the pattern's subscribers as a string set, changed
with the same writes (``ADD``/``DELETE``: atomic, no read), and an event reads its patterns'
sets with one BatchGetItem. Its limits: a set item holds about 13,000 subscribers (DynamoDB's
400 KB); a pattern past that is marked ``overflow`` and read by its items again. The sets are
trusted once ``make backfill`` has built them from the items (``READY``); until then (an upgraded
stage) the fan-out reads the items as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import PynamoDBException, UpdateError

from chalicelib.store.common import unavailable

log = logging.getLogger("conductor.subscriptions")
ALL = "#all"
#: the item that says every pattern's set is complete (written by the backfill, and where the
#: tables were made empty: provisioning)
READY = ("#meta", "pattern-sets")


def update_sets(model: Any, subscriber: str, added: Iterable[str], removed: Iterable[str]) -> None:
    """Add ``subscriber`` to the sets of ``added`` patterns, take it out of ``removed``'s."""
    for pattern in added:
        _change(model, pattern, {subscriber}, add=True)
    for pattern in removed:
        _change(model, pattern, {subscriber}, add=False)


def update_sets_of(model: Any, pattern: str, subscribers: set[str]) -> None:
    """Add every one of ``subscribers`` to ``pattern``'s set (the backfill's step: idempotent)."""
    if subscribers:
        _change(model, pattern, subscribers, add=True)


def _change(model: Any, pattern: str, members: set[str], add: bool) -> None:
    """One UpdateItem of a pattern's set; a set that would pass DynamoDB's item size instead
    marks the pattern ``overflow`` (read by its items from then on)."""
    record = model(pattern=pattern, subscriber=ALL)
    action = model.subscribers.add(members) if add else model.subscribers.delete(members)
    try:
        record.update(actions=[action])
    except UpdateError as exc:
        if not add or "size" not in str(exc.cause).lower():
            raise unavailable("subscriptions") from exc
        log.warning("pattern %s has too many subscribers for one item", pattern)
        try:
            record.update(actions=[model.overflow.set(True)])
        except PynamoDBException as again:
            raise unavailable("subscriptions") from again
    except PynamoDBException as exc:
        raise unavailable("subscriptions") from exc


def mark_ready(model: Any) -> None:
    """Every pattern's set is complete: the fan-out may read the sets."""
    try:
        model(pattern=READY[0], subscriber=READY[1]).save()
    except PynamoDBException as exc:
        raise unavailable("subscriptions") from exc
