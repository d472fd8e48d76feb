"""Batch operations: every item answered on its own, none affecting another."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.api.routing import validate
from chalicelib.errors import ConductorError


def run_batch(items: list[dict[str, Any]], model_name: str,
              action: Callable[[Any], str]) -> dict[str, Any]:
    """Validate and run each item; ``action`` returns the id of what it made or changed."""
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            parsed = validate(model_name, item, f"item {index}")
            results.append({"index": index, "id": action(parsed), "status": "ok"})
        except ConductorError as exc:
            results.append({"index": index, "id": item.get("id"), "status": "error",
                            "error": {"code": exc.code, "message": exc.message}})
    failed = sum(1 for r in results if r["status"] == "error")
    return {"results": results, "succeeded": len(results) - failed, "failed": failed}
