"""Request parsing shared by every route: JSON bodies, pages and the cursors bound to them."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.errors import (
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)

MAX_BODY_BYTES = 256 * 1024  # the largest SQS message: everything we accept can be queued


def read_json(request: Any) -> Any:
    """The request's JSON body: 413 when too large, 415 when not JSON, 400 when malformed."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0]
    if content_type.strip().lower() != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    if not raw.strip():
        raise ValidationFailed("A JSON body is required.", [{"field": "body", "problem": "is empty"}])
    from chalicelib.domain import strict_json  # noqa: PLC0415

    try:
        return strict_json.loads(raw)
    except strict_json.TooDeep as exc:
        raise ValidationFailed(
            "The body is nested too deeply.",
            [
                {
                    "field": "body",
                    "problem": f"must not nest objects and arrays more than {strict_json.MAX_DEPTH} deep",
                }
            ],
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The body is not valid JSON.", [{"field": "body", "problem": f"is not valid JSON: {exc}"}]
        ) from exc


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


def created(body: Any, location: str | None = None) -> Response:
    headers = {"Location": location} if location else {}
    return Response(body=body, status_code=201, headers=headers)


def _scope(query: Any, route: str, path: tuple[str, ...]) -> str:
    """What a cursor is bound to: its list (route and path ids) and the query's filters."""
    import hashlib  # noqa: PLC0415

    filters = query.model_dump(mode="json", by_alias=True, exclude={"limit", "cursor"})
    text = json.dumps([route, list(path), filters], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _foreign_cursor() -> ValidationFailed:
    return ValidationFailed(
        "The cursor belongs to another list or other filters.",
        [{"field": "cursor", "problem": "must be a next_cursor of this list with the same filters"}],
    )


def bound_position(query: Any, route: str, *path: str) -> dict[str, Any] | None:
    """The position a ``next_cursor`` carries, if it was made for this list and these filters."""
    from chalicelib.deps import cursor_secret  # noqa: PLC0415
    from chalicelib.domain.cursor import decode_cursor  # noqa: PLC0415

    position = decode_cursor(query.cursor, cursor_secret())
    if position is None:
        return None
    if position.pop("s", None) != _scope(query, route, path):
        raise _foreign_cursor()
    return position


def bound_cursor(position: dict[str, Any] | None, query: Any, route: str, *path: str) -> str | None:
    """The ``next_cursor`` for ``position`` (None: no more pages), bound to this list."""
    from chalicelib.deps import cursor_secret  # noqa: PLC0415
    from chalicelib.domain.cursor import encode_cursor  # noqa: PLC0415

    if not position:
        return None
    return encode_cursor({**position, "s": _scope(query, route, path)}, cursor_secret())


def position_of(query: Any, route: str, *path: str) -> str | None:
    """The list position (the last item's sort key) of this list's ``next_cursor``."""
    position = bound_position(query, route, *path)
    if position is None:
        return None
    key = position.get("k")
    if not isinstance(key, str) or not key or len(key) > 512:
        raise _foreign_cursor()
    return key


def cursor_for(last: str | None, query: Any, route: str, *path: str) -> str | None:
    """The ``next_cursor`` for a page that ended at sort key ``last`` (None: no more pages)."""
    return bound_cursor({"k": last} if last else None, query, route, *path)
