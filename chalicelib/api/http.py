"""Request parsing shared by every route, and the routing helper that maps domain errors."""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.errors import from_exception
from chalicelib.errors import (
    ConductorError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)

MAX_BODY_BYTES = 256 * 1024  # the largest SQS message: everything we accept can be queued


class ApiBlueprint(Blueprint):
    """A Blueprint whose views may raise ``ConductorError``: it becomes the JSON error response.

    Chalice turns any other exception from a view into its own 500, which the middleware reshapes.
    """

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        register = super().route(path, **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapped(*args: Any, **kw: Any) -> Any:
                try:
                    return view(*args, **kw)
                except ConductorError as exc:
                    return from_exception(exc)

            register(wrapped)
            return view

        return decorator


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
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The body is not valid JSON.", [{"field": "body", "problem": f"is not valid JSON: {exc}"}]
        ) from exc


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


def created(body: Any, location: str | None = None) -> Response:
    headers = {"Location": location} if location else {}
    return Response(body=body, status_code=201, headers=headers)


def position_of(cursor: str | None) -> str | None:
    """The list position a ``next_cursor`` carries (the last item's sort key)."""
    from chalicelib.config import get_settings  # noqa: PLC0415
    from chalicelib.domain.cursor import decode_cursor  # noqa: PLC0415

    position = decode_cursor(cursor, get_settings().cursor_secret)
    return position.get("k") if position else None


def cursor_for(last: str | None) -> str | None:
    """The ``next_cursor`` for a page that ended at sort key ``last`` (None: no more pages)."""
    from chalicelib.config import get_settings  # noqa: PLC0415
    from chalicelib.domain.cursor import encode_cursor  # noqa: PLC0415

    return encode_cursor({"k": last} if last else None, get_settings().cursor_secret)
