"""HTTP middleware: request ids, API versions, the error shape, one JSON log line a request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import deps, outbox
from chalicelib.api import versioning
from chalicelib.api.errors import error_response, reshape_chalice_error
from chalicelib.errors import DependencyUnavailable
from chalicelib.logs import request_id_var

log = logging.getLogger("conductor.http")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


def _request_id(headers: Any) -> str:
    given = headers.get("x-request-id") if headers is not None else None
    if given and _REQUEST_ID_RE.match(given):
        return given
    return uuid.uuid4().hex


def request_path(request: Any) -> str | None:
    """The path the client asked for (``request.path`` is the matched route's template)."""
    context = getattr(request, "context", None) or {}
    return context.get("path") or getattr(request, "path", None)


def _version_gate(request: Any, path: str) -> tuple[str, Response | None, dict[str, str]]:
    """The version serving ``path``, an early answer when the request cannot be served, and the
    headers the response must carry."""
    version = versioning.path_version(path) or versioning.CURRENT
    headers = getattr(request, "headers", None)
    requested = headers.get("api-version") if headers is not None else None
    if requested is not None:
        wanted = versioning.normalize(requested)
        if wanted is None or wanted != version:
            problem = (
                f"must be one of {', '.join(versioning.header_value(v) for v in versioning.REGISTRY)}"
                if wanted is None
                else f"this path is served by version {versioning.header_value(version)}"
            )
            return (
                version,
                error_response(
                    "validation_error",
                    "Unsupported API-Version.",
                    [{"field": "API-Version", "problem": problem}],
                ),
                {},
            )
    spec = versioning.REGISTRY[version]
    if spec.status != "deprecated":
        return version, None, {}
    extra = versioning.deprecation_headers(spec, path)
    if versioning.is_gone(spec, deps.clock()):
        return (
            version,
            error_response(
                "gone",
                f"API {version} was retired on {extra.get('Sunset')}; use {versioning.successor(path)}.",
                headers=extra,
            ),
            {},
        )
    return version, None, extra


def _collecting(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """The request's events are written together once it is answered (``outbox.py``); when that
    fails, the answer says so (503), as a failed ``publish`` did."""
    with outbox.collecting() as box:
        response = get_response(request)
    if box.events:
        try:
            deps.event_bus().write(box)
        except DependencyUnavailable as exc:
            log.warning("events of %s could not be written", request_path(request), exc_info=True)
            return error_response(exc.code, exc.message)
    return response


def envelope(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """Wrap every HTTP request: take or make ``X-Request-Id``, gate the version, shape errors."""
    request_id = _request_id(getattr(request, "headers", None))
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    path = request_path(request) or "/"
    try:
        version, early, extra = _version_gate(request, path)
        response = early or reshape_chalice_error(_collecting(request, get_response))
        response.headers.update(extra)
        response.headers["X-Request-Id"] = request_id
        response.headers["API-Version"] = versioning.header_value(version)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        if path.startswith("/v"):
            deps.metrics().request(response.status_code, duration_ms, _route(request))
        log.info(
            "request",
            extra={
                "fields": {
                    "method": getattr(request, "method", None),
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                }
            },
        )
        return response
    finally:
        request_id_var.reset(token)


def _route(request: Any) -> str | None:
    """The route's template (``GET /v2/schedules/{schedule_id}``), never the path: a metric
    dimension per id would make a metric per id. None where no route matched."""
    context = getattr(request, "context", None) or {}
    resource, method = context.get("resourcePath"), getattr(request, "method", None)
    return f"{method} {resource}" if resource and method else None
