"""``GET /v2/openapi.json``: an OpenAPI 3.1 document built from the declared routes and models.

Descriptions come from the views' docstrings and the models' field descriptions; examples are
requests the API accepted and the answers it gave (recorded by ``python -m devserver.examples``
into ``examples.json``); the ``webhooks`` section is the event catalog (``domain/events.py``),
each type with the schema of its ``data``. ``servers`` names the URL the document was fetched
through (API Gateway's stage included), so Swagger UI and generated clients call the right place.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from chalicelib.api.errors import STATUS_BY_CODE
from chalicelib.api.routing import ROUTES, ApiBlueprint, RouteSpec, model
from chalicelib.domain.events import CATALOG, data_schema

bp = ApiBlueprint(__name__)
REF = "#/components/schemas/{model}"
EXAMPLES = Path(__file__).resolve().parent / "examples.json"
_ERROR_DESCRIPTIONS = {
    400: "Invalid request (validation_error)",
    401: "Missing or invalid API key (unauthorized)",
    403: "The key's role is not enough (forbidden)",
    404: "Not found (not_found)",
    409: "Conflict (conflict)",
    413: "Body too large (payload_too_large)",
    415: "Body is not JSON (unsupported_media_type)",
    429: "Rate limited (rate_limited)",
    503: "A dependency is down",
}
_ERROR_EXAMPLES = {
    400: (
        "validation_error",
        "The request body is invalid.",
        [{"field": "target.url", "problem": "must be an absolute http(s) URL"}],
    ),
    401: ("unauthorized", "A valid API key is required (Authorization: Bearer cnd_...).", []),
    403: ("forbidden", "This operation needs the operator role; the key is a viewer.", []),
    404: ("not_found", "No schedule sch_01M8N8V9G98S5DZAEFTN5Z2009.", []),
    409: ("conflict", "The schedule changed since version 3; read it again.", []),
    413: ("payload_too_large", "The body is 300000 bytes; at most 262144.", []),
    415: ("unsupported_media_type", "The body must be JSON (Content-Type: application/json).", []),
    429: ("rate_limited", "Rate limit for write requests reached; retry in 2 s.", []),
    503: ("service_unavailable", "A dependency (DynamoDB or SQS) failed; retry in a moment.", []),
}

#: Path parameters, described once.
PATH_PARAMETERS = {
    "key_id": "The API key's id (`key_...`).",
    "event_id": "The event's id (`evt_...`).",
    "job_id": "The retry job's id (`rty_...`).",
    "service": "The downstream service's name (1-64 of `A-Za-z0-9_.:-`), e.g. `payments` or "
    "`schedule:sch_...` for a schedule's own runs.",
    "dead_letter_id": "The dead letter's id (`dlq_...`).",
    "schedule_id": "The schedule's id (`sch_...`).",
    "webhook_id": "The webhook endpoint's id (`whk_...`).",
    "delivery_id": "The delivery's id (`dlv_...`).",
}

#: Response headers, declared once in components and referenced where they are sent.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "This request's id: the `X-Request-Id` sent (1-128 of "
        "`A-Za-z0-9._-`) or a new one. Every log line of the request carries it.",
        "schema": {"type": "string"},
    },
    "API-Version": {"description": "The API version that answered (`2`).", "schema": {"type": "string"}},
    "RateLimit-Policy": {
        "description": "The caller's quota for this route class "
        '(IETF RateLimit fields): `"write";q=120;w=60` is 120 per 60 s.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it: `"write";r=119;t=1` is 119 remaining, full again in 1 s.',
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before asking again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "ETag": {
        "description": 'The schedule\'s version, quoted (`"4"`): send it as `If-Match` '
        "to update only that version.",
        "schema": {"type": "string"},
    },
    "Location": {"description": "Where the new resource is (`/v2/...`).", "schema": {"type": "string"}},
    "Deprecation": {
        "description": "This version is deprecated since (`@<unix seconds>`, RFC 9745).",
        "schema": {"type": "string"},
    },
    "Sunset": {
        "description": "This version stops answering at (an HTTP date, RFC 8594).",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The same operation in the current version (`rel="successor-version"`).',
        "schema": {"type": "string"},
    },
}
_ETAG = {"get_schedule", "update_schedule"}


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


@functools.cache
def examples() -> dict[str, dict[str, Any]]:
    return json.loads(EXAMPLES.read_text(encoding="utf-8"))


def _description(spec: RouteSpec) -> str:
    return spec.description or spec.summary


def _error_response(status: int, common: dict[str, Any]) -> dict[str, Any]:
    code, message, details = _ERROR_EXAMPLES.get(status, ("internal_error", "Error", []))
    headers = dict(common)
    if status in (429, 503):
        headers |= _header_refs("Retry-After")
    return {
        "description": _ERROR_DESCRIPTIONS.get(status, "Error"),
        "headers": headers,
        "content": {
            "application/json": {
                "schema": {"$ref": REF.format(model="ErrorResponse")},
                "example": {"error": {"code": code, "message": message, "details": details}},
            }
        },
    }


def _parameters(spec: RouteSpec, example: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": PATH_PARAMETERS.get(name, name),
            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
        }
        for name in re.findall(r"\{([^}]+)\}", spec.path)
    ]
    if spec.query is None:
        return parameters
    schema = model(spec.query).model_json_schema(by_alias=True, ref_template=REF)
    recorded = example.get("query", {})
    for name, prop in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "description": prop.get("description", ""),
            "schema": {k: v for k, v in prop.items() if k not in ("description", "title")},
        }
        if name in recorded:
            parameter["example"] = recorded[name]
        parameters.append(parameter)
    return parameters


def _operation(spec: RouteSpec, version: str) -> dict[str, Any]:
    example = examples().get(spec.operation_id, {})
    operation: dict[str, Any] = {
        "operationId": spec.operation_id if version == "v2" else f"{spec.operation_id}_v1",
        "summary": spec.summary,
        "description": _description(spec),
        "tags": [spec.path.strip("/").split("/")[0]],
        "parameters": _parameters(spec, example),
        "responses": {},
    }
    common = _header_refs("X-Request-Id", "API-Version")
    if version == "v1":
        operation["deprecated"] = True
        common |= _header_refs("Deprecation", "Sunset", "Link")
    if spec.rate_class is not None:
        common |= _header_refs("RateLimit-Policy", "RateLimit")
    if spec.body is not None:
        body: dict[str, Any] = {"schema": {"$ref": REF.format(model=spec.body)}}
        if "request" in example:
            body["example"] = example["request"]
        operation["requestBody"] = {"required": True, "content": {"application/json": body}}
    operation["responses"] = _responses(spec, common, example)
    if spec.role is not None:
        operation["security"] = [{"bearer": []}, {"apiKey": []}]
    else:
        operation["security"] = []
    return operation


def _responses(spec: RouteSpec, common: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": spec.summary, "headers": dict(common)}
    if spec.status == 201:
        success["headers"] |= _header_refs("Location")
    if spec.operation_id in _ETAG:
        success["headers"] |= _header_refs("ETag")
    if spec.status != 204:
        schema = (
            {"$ref": REF.format(model=spec.response)} if spec.response is not None else {"type": "object"}
        )
        content: dict[str, Any] = {"schema": schema}
        if "response" in example:
            content["example"] = example["response"]
        success["content"] = {"application/json": content}
    responses[str(spec.status)] = success
    for status in spec.also:
        responses[str(status)] = success | {"description": "The same, already done"}
    statuses = set(spec.errors) | {400}
    if spec.role is not None:
        statuses |= {401, 403}
    if spec.rate_class is not None:
        statuses.add(429)
    if spec.body is not None:
        statuses |= {413, 415}
    if spec.status == 200 and 503 in statuses and spec.response:
        responses["503"] = success | {"description": "Some dependency is down"}
        statuses.discard(503)
    for status in sorted(statuses):
        responses[str(status)] = _error_response(status, common)
    return responses


_EXAMPLE_VALUES: dict[str, Any] = {
    "retry_job_id": "rty_01M8N8VQ8GFS0PEGD9YRSVT0BF",
    "dead_letter_id": "dlq_01M8N8VQ8GFS0PEGD9YRSVT0BF",
    "schedule_id": "sch_01M8N8V9G98S5DZAEFTN5Z2009",
    "execution_id": "exe_01M8N8VA3T1M4W2Q5H7K8N9P0R",
    "webhook_id": "whk_01M8N8V7ZFMZQEKMQA1VMHKN0B",
    "delivery_id": "dlv_01M8N8W2D4F6H8J0K2M4P6R8T0",
    "event_id": "evt_01M8N8W0A2C4E6G8J0K2M4P6R8",
    "key_id": "key_01M8N8V6VXP2CV17SAP05CY0DD",
    "service": "payments",
    "source": "retry_job",
    "fingerprint": "9f2c1a7b3d4e5f60",
    "error": {"type": "HTTP503", "message": "Service Unavailable"},
    "next_attempt_at": "2026-11-30T09:00:04.000Z",
    "scheduled_for": "2026-11-30T09:00:00.000Z",
    "trigger": "scheduled",
    "name": "Nightly sales report",
    "next_run_at": "2026-12-01T01:00:00.000Z",
    "note": None,
    "url": "https://hooks.example.com/conductor",
    "event_type": "schedule.executed",
    "status": "ok",
    "state": "open",
    "role": "operator",
    "window": {"size": 20, "failures": 12, "failure_rate": 0.6},
    "failure_rate": 0.6,
    "outcome": "failed",
    "status_code": 503,
    "error_type": "HTTP503",
    "attempt": 2,
    "attempts": 3,
    "duration_ms": 84.2,
    "version": 4,
    "window_start": "2026-11-30T09:00:00.000Z",
    "totals": {"api": {"requests": 120}},
    "down": [],
    "went_down": [],
    "came_back": ["queue:retries"],
    "workflow_id": "order-1042",
    "failures": 5,
    "reason": "failures",
}

_EXAMPLE_OVERRIDES: dict[str, dict[str, Any]] = {
    "webhook.disabled": {"reason": "the endpoint answered 410 Gone"},
    "schedule.paused": {"note": "Paused after 5 failed runs in a row (pause_after_failures=5)."},
    "error.succeeded": {"attempts": 2},
    "circuit.closed": {"state": "closed"},
    "circuit.half_opened": {"state": "half_open"},
    "error.retry": {"outcome": "failed"},
    "system.work_recovered": {
        "kind": "delivery",
        "id": "dlv_01M8N8W2D4F6H8J0K2M4P6R8T0",
        "status": "pending",
        "attempt": 1,
        "due_at": "2026-11-30T09:00:00.000Z",
        "overdue_seconds": 131.0,
    },
}


def _webhook(kind: Any) -> dict[str, Any]:
    """One outgoing event as OpenAPI 3.1 describes a webhook: what Conductor POSTs to endpoints."""
    data = data_schema(kind.name)
    values = _EXAMPLE_VALUES | _EXAMPLE_OVERRIDES.get(kind.name, {})
    example_data = {name: values.get(name, "...") for name in data["properties"]}
    envelope = {"$ref": REF.format(model="Event")}
    return {
        "post": {
            "operationId": f"webhook_{kind.name.replace('.', '_')}",
            "summary": kind.description,
            "description": f"{kind.description} Sent to every enabled endpoint subscribed to "
            f"`{kind.name}`, `{kind.name.split('.')[0]}.*` or `*`, signed with Standard "
            "Webhooks; the same object is pushed to WebSockets and kept in the timeline.",
            "tags": [kind.category],
            "parameters": [
                {
                    "name": "webhook-id",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The delivery's id (`dlv_...`), the same on each attempt: dedupe by it.",
                },
                {
                    "name": "webhook-timestamp",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Unix seconds of this attempt; refuse old ones (replays).",
                },
                {
                    "name": "webhook-signature",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the endpoint's "
                    "secret (the base64 after `whsec_`); two, space-separated, for 24 h "
                    "after a rotation. Verify with any Standard Webhooks library.",
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "allOf": [
                                envelope,
                                {
                                    "type": "object",
                                    "properties": {"type": {"const": kind.name}, "data": data},
                                },
                            ]
                        },
                        "example": {
                            "id": _EXAMPLE_VALUES["event_id"],
                            "type": kind.name,
                            "timestamp": "2026-11-30T09:00:00.184Z",
                            "data": example_data,
                        },
                    }
                },
            },
            "responses": {
                "2XX": {"description": "Delivered: any 2xx ends the delivery."},
                "410": {
                    "description": "Gone: Conductor disables the endpoint (its later events wait, "
                    "as `skipped`, for `recover`)."
                },
                "default": {
                    "description": "Anything else, or no answer within 15 s, is a failed "
                    "attempt: retried with backoff (a `Retry-After` is honoured) "
                    "up to the endpoint's `max_attempts`, then dead-lettered."
                },
            },
        }
    }


@functools.cache
def document() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema  # noqa: PLC0415

    names = sorted(
        {n for s in ROUTES for n in (s.body, s.response, s.query) if n} | {"ErrorResponse", "Event"}
    )
    _, definitions = models_json_schema(
        [(model(n), "serialization" if n != "ErrorResponse" else "validation") for n in names],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        for version in spec.versions:
            paths.setdefault(f"/{version}{spec.path}", {})[spec.method.lower()] = _operation(spec, version)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Conductor API",
            "version": "2",
            "description": "Error recovery (retries with backoff, circuit breakers, a dead-letter "
            "queue), cron scheduling and signed webhooks. Authenticate with an API "
            "key: `Authorization: Bearer cnd_...`. Errors are "
            '`{"error": {"code", "message", "details"}}`; codes: '
            + ", ".join(sorted(STATUS_BY_CODE))
            + ". Lists are pages: "
            '`{"items", "next_cursor"}`, `?limit=1..200&cursor=`. The events '
            "Conductor sends to webhook endpoints are under `webhooks`.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "webhooks": {kind.name: _webhook(kind) for kind in CATALOG},
        "components": {
            "schemas": definitions.get("$defs", {}),
            "headers": HEADERS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: `Authorization: Bearer cnd_...`",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def servers_for(context: dict[str, Any] | None, path: str = "/v2/openapi.json") -> list[dict[str, str]]:
    """The base URL this request came through: behind API Gateway's own domain the stage is part
    of the path (``/api/v2/...``); behind a custom domain or locally, what precedes ``/v2``."""
    context = context or {}
    requested = str(context.get("path") or path)
    prefix = requested[: -len(path)] if requested.endswith(path) else ""
    domain = context.get("domainName")
    if domain and "." in str(domain):
        return [
            {"url": f"https://{domain}{prefix}", "description": f"stage {context.get('stage', '')}".strip()}
        ]
    return [{"url": prefix or "/", "description": "This server"}]


@bp.operation("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", role=None, rate_class="read")
def openapi_document() -> dict[str, Any]:
    """This document: OpenAPI 3.1, with every operation, schema, example, response header and
    outgoing webhook. Public. A rendered reference is served at `/docs`."""
    return {**document(), "servers": servers_for(bp.current_request.context)}
