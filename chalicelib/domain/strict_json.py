"""JSON as RFC 8259 has it, from callers we do not trust: no NaN or Infinity (Python's json
accepts and emits them; browsers' JSON.parse then fails), and a bound on nesting (deep nesting
makes json raise RecursionError, not ValueError, and makes encoders recurse until they fail)."""

from __future__ import annotations

import json
import math
from typing import Any

#: Nothing Conductor takes needs deeper nesting.
MAX_DEPTH = 32


class TooDeep(ValueError):
    """The document nests objects and arrays deeper than ``MAX_DEPTH``."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: a valid JSON number no double can hold
        raise ValueError(f"{text} is too large a number")
    return value


def within_depth(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests at most ``limit`` deep (iterative: no recursion to exhaust)."""
    if not isinstance(value, dict | list):
        return True
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def loads(text: str | bytes) -> Any:
    """Parse untrusted JSON; ``ValueError`` (``TooDeep`` for nesting) says what is wrong."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:
        raise TooDeep(f"nests deeper than {MAX_DEPTH}") from exc
    if isinstance(value, dict | list) and not within_depth(value):
        raise TooDeep(f"nests deeper than {MAX_DEPTH}")
    return value


def dumps(value: Any) -> str:
    """Compact JSON that is always valid: ``ValueError`` rather than emitting NaN/Infinity."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
