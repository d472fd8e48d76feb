"""Records ↔ entities: every store turns pynamodb records into frozen domain entities here.

A record stores booleans as "true"/"false" (filterable without DynamoDB's BOOL quirks), numbers
as Decimals and lists as lists; an entity has Python's types. The entity's annotations say which,
so each store maps with one call instead of hand-written casts in every service.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any


@functools.cache
def _plan(cls: type) -> tuple[tuple[str, str, Any], ...]:
    """(field, kind, default) per entity field, kind one of int/float/bool/tuple/int-tuple/any."""
    hints = typing.get_type_hints(cls)
    plan = []
    for field in dataclasses.fields(cls):
        text = str(hints[field.name]).replace("<class '", "").replace("'>", "")
        kind = (
            "bool"
            if text in ("bool", "bool | None")
            else "int"
            if text in ("int", "int | None")
            else "float"
            if text in ("float", "float | None")
            else "int-tuple"
            if text.startswith("tuple[int, ...]")
            else "tuple"
            if text.startswith("tuple[")
            else "any"
        )
        default = (
            field.default
            if field.default is not dataclasses.MISSING
            else field.default_factory()
            if field.default_factory is not dataclasses.MISSING
            else None
        )
        plan.append((field.name, kind, default))
    return tuple(plan)


def _value(kind: str, raw: Any, default: Any) -> Any:
    if raw is None:
        return default
    if kind == "bool":
        return raw == "true" if isinstance(raw, str) else bool(raw)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "int-tuple":
        return tuple(int(v) for v in raw)
    if kind == "tuple":
        return tuple(raw)
    return raw


def entity_of[E](cls: type[E], record: Any) -> E:
    """The entity ``cls`` read off a record (attributes it lacks take the field's default)."""
    return cls(
        **{name: _value(kind, getattr(record, name, None), default) for name, kind, default in _plan(cls)}
    )


def stored_value(value: Any) -> Any:
    """One entity value in a record's type (for a single-field update)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return list(value) if isinstance(value, tuple) else value


def fields_of(entity: Any) -> dict[str, Any]:
    """An entity's fields in a record's types (bools as "true"/"false", tuples as lists)."""
    return {name: stored_value(getattr(entity, name)) for name, _, _ in _plan(type(entity))}
