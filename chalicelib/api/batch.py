"""Batch operations: every item answered on its own, none affecting another."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.api.routing import validate
from chalicelib.errors import ConductorError, Conflict, ValidationFailed

#: items run at once: a batch of 100 takes about as long as 10 one after another
CONCURRENCY = 10


def _error(index: int, item_id: Any, exc: ConductorError) -> dict[str, Any]:
    return {
        "index": index,
        "id": item_id if isinstance(item_id, str) else None,
        "status": "error",
        "error": {"code": exc.code, "message": exc.message, "details": exc.details},
    }


def run_batch(items: list[Any], model_name: str, action: Callable[[Any], str]) -> dict[str, Any]:
    """Validate each item, then run the valid ones 10 at a time; ``action`` returns the id of
    what it made or changed. An item naming an id an earlier item named is not done twice.
    Results keep the items' order."""
    results: list[dict[str, Any] | None] = [None] * len(items)
    runnable: list[tuple[int, Any, Any]] = []
    first_of: dict[str, int] = {}
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise ValidationFailed(
                    f"Item {index} is not a JSON object.",
                    [{"field": f"items.{index}", "problem": "must be an object"}],
                )
            parsed = validate(model_name, item, f"item {index}")
            if isinstance(item_id, str) and item_id in first_of:
                raise Conflict(f"Item {index} repeats item {first_of[item_id]} ({item_id}): done once.")
            if isinstance(item_id, str):
                first_of[item_id] = index
            runnable.append((index, item_id, parsed))
        except ConductorError as exc:
            results[index] = _error(index, item_id, exc)

    def run(entry: tuple[int, Any, Any]) -> dict[str, Any]:
        index, item_id, parsed = entry
        try:
            return {"index": index, "id": action(parsed), "status": "ok"}
        except ConductorError as exc:
            return _error(index, item_id, exc)

    if runnable:
        with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(runnable))) as pool:
            # each in a copy of the request's context, made here: their events join its outbox
            futures = [pool.submit(contextvars.copy_context().run, run, e) for e in runnable]
            done = [future.result() for future in futures]
        for entry, result in zip(runnable, done, strict=True):
            results[entry[0]] = result
    answered = [r for r in results if r is not None]
    failed = sum(1 for r in answered if r["status"] == "error")
    return {"results": answered, "succeeded": len(answered) - failed, "failed": failed}
