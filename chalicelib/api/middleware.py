"""HTTP middleware: request ids, the API version header, error shape, one JSON log line a request."""
from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.api.errors import reshape_chalice_error

log = logging.getLogger("conductor.http")
CURRENT_VERSION = "2"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def _request_id(headers: Any) -> str:
    given = headers.get("x-request-id") if headers is not None else None
    if given and _REQUEST_ID_RE.match(given):
        return given
    return uuid.uuid4().hex


def request_path(request: Any) -> str | None:
    """The path the client asked for (``request.path`` is the matched route's template)."""
    context = getattr(request, "context", None) or {}
    return context.get("path") or getattr(request, "path", None)


def envelope(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """Wrap every HTTP request: take or make ``X-Request-Id``, answer errors in our shape."""
    request_id = _request_id(getattr(request, "headers", None))
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        response = reshape_chalice_error(get_response(request))
    finally:
        request_id_var.reset(token)
    response.headers["X-Request-Id"] = request_id
    response.headers["API-Version"] = CURRENT_VERSION
    log.info("request", extra={"fields": {
        "request_id": request_id,
        "method": getattr(request, "method", None),
        "path": request_path(request),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }})
    return response
