"""When an item's next step is due: the sparse ``by-due`` index the reconciler reads.

Every retry job, delivery and schedule run that still has a step to take carries ``due_shard``
("<kind>#<n>") and ``due_at`` (epoch seconds): the time its next attempt should run, or the end
of the lease of the attempt running now. A finished item has neither, so it is not in the index
at all, and the reconciler's Query ``due_at < now - grace`` returns only overdue work: its cost
follows the overdue items, never the stored ones (Temporal keeps durable timers for the same
reason). The item itself is its own outbox: the write that changes its state also says when the
message it implies must have done its work, so a message lost between the write and SQS (or
dropped by a crash) is found and sent again.
"""

from __future__ import annotations

import zlib
from typing import Any

from pynamodb.exceptions import PynamoDBException, UpdateError

from chalicelib.store.common import conditional_failure, unavailable

#: index partitions per kind: in-flight writes spread over them (one partition takes ~1,000
#: writes a second)
SHARDS = 4
#: schedule runs come in herds (every daily schedule at 00:00 is claimed, started and ended in
#: the same minute: three index writes a run): 32 partitions carry ~10,000 runs a second. Items
#: written under 4 are still read (shards 0-3 are among these).
KIND_SHARDS = {"run": 32}


def shard_count(kind: str) -> int:
    return KIND_SHARDS.get(kind, SHARDS)


def shard_of(kind: str, item_id: str) -> str:
    return f"{kind}#{zlib.crc32(item_id.encode()) % shard_count(kind)}"


def shards(kind: str) -> list[str]:
    return [f"{kind}#{n}" for n in range(shard_count(kind))]


def due_actions(model: Any, kind: str, item_id: str, due_at: int | None) -> list[Any]:
    """The update actions that put the item in the index at ``due_at`` (None: take it out)."""
    if due_at is None:
        return [model.due_shard.remove(), model.due_at.remove()]
    return [model.due_shard.set(shard_of(kind, item_id)), model.due_at.set(int(due_at))]


def due_fields(kind: str, item_id: str, due_at: int | None) -> dict[str, Any]:
    """The same as record attributes, for an item written whole."""
    if due_at is None:
        return {}
    return {"due_shard": shard_of(kind, item_id), "due_at": int(due_at)}


def overdue(model: Any, kind: str, before: int, limit: int) -> list[tuple[Any, int]]:
    """Up to ``limit`` records of ``kind`` due before ``before``, the most overdue first, each
    with the ``due_at`` it was read with: one Query per shard, each stopping at what it needs."""
    found: list[tuple[Any, int]] = []
    try:
        for shard in shards(kind):
            if len(found) >= limit:
                break
            for record in model.by_due.query(shard, model.due_at < before, limit=limit - len(found)):
                found.append((record, int(record.due_at)))
    except PynamoDBException as exc:
        raise unavailable(model.Meta.table_name) from exc
    found.sort(key=lambda pair: pair[1])
    return found


def postpone(record: Any, kind: str, item_id: str, seen_due: int, new_due: int) -> bool:
    """Move an overdue record's ``due_at`` on to ``new_due`` if it is still the one read (one
    reconciler repairs it; a worker that moved it meanwhile wins). A retried write whose answer
    was lost finds ``new_due`` already: that is ours too."""
    model = type(record)
    try:
        # Condition: still due when it was read (or already moved on by this very write).
        record.update(
            actions=due_actions(model, kind, item_id, new_due),
            condition=(model.due_at == seen_due) | (model.due_at == new_due),
        )
    except UpdateError as exc:
        if conditional_failure(exc):
            return False
        raise unavailable(model.Meta.table_name) from exc
    except PynamoDBException as exc:
        raise unavailable(model.Meta.table_name) from exc
    return True
