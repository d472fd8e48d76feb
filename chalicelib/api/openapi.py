"""``GET /v2/openapi.json``: an OpenAPI 3.1 document built from the declared routes and models."""
from __future__ import annotations

import functools
import re
from typing import Any

from chalicelib.api.errors import STATUS_BY_CODE
from chalicelib.api.routing import ROUTES, ApiBlueprint, RouteSpec, model

bp = ApiBlueprint(__name__)
REF = "#/components/schemas/{model}"
_ERROR_DESCRIPTIONS = {
    400: "Invalid request (validation_error)", 401: "Missing or invalid API key (unauthorized)",
    403: "The key's role is not enough (forbidden)", 404: "Not found (not_found)",
    409: "Conflict (conflict)", 413: "Body too large (payload_too_large)",
    415: "Body is not JSON (unsupported_media_type)", 429: "Rate limited (rate_limited)",
    503: "A dependency is down",
}


def _error_response(status: int) -> dict[str, Any]:
    return {"description": _ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}}


def _operation(spec: RouteSpec, version: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.operation_id if version == "v2" else f"{spec.operation_id}_v1",
        "summary": spec.summary,
        "tags": [spec.path.strip("/").split("/")[0]],
        "parameters": [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
            for name in re.findall(r"\{([^}]+)\}", spec.path)
        ],
        "responses": {},
    }
    if version == "v1":
        operation["deprecated"] = True
    if spec.query is not None:
        schema = model(spec.query).model_json_schema(by_alias=True, ref_template=REF)
        for name, prop in schema.get("properties", {}).items():
            operation["parameters"].append({
                "name": name, "in": "query", "required": name in schema.get("required", []),
                "description": prop.get("description", ""),
                "schema": {k: v for k, v in prop.items() if k not in ("description", "title")}})
    if spec.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=spec.body)}}}}
    success: dict[str, Any] = {"description": spec.summary}
    if spec.response is not None:
        success["content"] = {"application/json": {"schema": {"$ref": REF.format(
            model=spec.response)}}}
    operation["responses"][str(spec.status)] = success
    for status in spec.also:
        operation["responses"][str(status)] = success | {"description": "The same, already done"}
    statuses = set(spec.errors) | {400}
    if spec.role is not None:
        statuses |= {401, 403}
        operation["security"] = [{"bearer": []}, {"apiKey": []}]
    else:
        operation["security"] = []
    if spec.rate_class is not None:
        statuses.add(429)
    if spec.body is not None:
        statuses |= {413, 415}
    if spec.status == 200 and 503 in statuses and spec.response:
        operation["responses"]["503"] = success | {"description": "Some dependency is down"}
        statuses.discard(503)
    for status in sorted(statuses):
        operation["responses"][str(status)] = _error_response(status)
    return operation


@functools.cache
def document() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema  # noqa: PLC0415

    names = sorted({n for s in ROUTES for n in (s.body, s.response, s.query) if n}
                   | {"ErrorResponse"})
    _, definitions = models_json_schema(
        [(model(n), "serialization" if n != "ErrorResponse" else "validation") for n in names],
        ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        for version in spec.versions:
            paths.setdefault(f"/{version}{spec.path}", {})[spec.method.lower()] = _operation(
                spec, version)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Conductor API",
            "version": "2",
            "description": "Error recovery, scheduling and webhooks. Errors are "
                           "`{\"error\": {\"code\", \"message\", \"details\"}}`; codes: "
                           + ", ".join(sorted(STATUS_BY_CODE)) + ".",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API key: `Authorization: Bearer cnd_...`"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


@bp.operation("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", role=None,
              rate_class="read")
def openapi_document() -> dict[str, Any]:
    """This document: OpenAPI 3.1, with every operation, schema, example, response header and
    outgoing webhook. Public. A rendered reference is served at `/docs`."""
    return document()
