"""Batch operations: every item answered on its own, none affecting another."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.api.routing import validate
from chalicelib.errors import ConductorError, Conflict, ValidationFailed


def run_batch(items: list[Any], model_name: str,
              action: Callable[[Any], str]) -> dict[str, Any]:
    """Validate and run each item on its own; ``action`` returns the id of what it made or
    changed. An item naming an id an earlier item named is not done twice."""
    results: list[dict[str, Any]] = []
    first_of: dict[str, int] = {}
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise ValidationFailed(f"Item {index} is not a JSON object.", [
                    {"field": f"items.{index}", "problem": "must be an object"}])
            parsed = validate(model_name, item, f"item {index}")
            if isinstance(item_id, str) and item_id in first_of:
                raise Conflict(f"Item {index} repeats item {first_of[item_id]} ({item_id}): "
                               "done once.")
            if isinstance(item_id, str):
                first_of[item_id] = index
            results.append({"index": index, "id": action(parsed), "status": "ok"})
        except ConductorError as exc:
            results.append({"index": index, "id": item_id if isinstance(item_id, str) else None,
                            "status": "error", "error": {"code": exc.code, "message": exc.message,
                                                         "details": exc.details}})
    failed = sum(1 for r in results if r["status"] == "error")
    return {"results": results, "succeeded": len(results) - failed, "failed": failed}
