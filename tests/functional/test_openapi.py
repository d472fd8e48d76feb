"""The OpenAPI document: valid 3.1, covers every /v2 route, and the API keeps its promises
(schemathesis generates requests from it against a real local server; no 5xx, no response that
breaks its schema)."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import moto
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import app as conductor
from chalicelib.api.openapi import document
from chalicelib.api.routing import ROUTES
from devserver.runtime import free_port


def test_document_is_valid_openapi_31() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_document_covers_every_v2_route_and_method() -> None:
    doc = document()
    declared = {(f"/v2{s.path}", s.method.lower()) for s in ROUTES}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops
                  if path.startswith("/v2")}
    chalice_routes = {(path, method.lower()) for path, methods in conductor.app.routes.items()
                      for method in methods if path.startswith("/v2")}
    assert declared == documented == chalice_routes


def test_document_names_security_and_error_schemas() -> None:
    doc = document()
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    error = doc["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    get_events = doc["paths"]["/v2/events"]["get"]
    assert {"401", "403", "429", "400"} <= set(get_events["responses"])
    assert doc["paths"]["/v1/events"]["get"]["deprecated"] is True
    assert doc["paths"]["/v2/openapi.json"]["get"]["security"] == []


def test_openapi_route_serves_the_document(client: Any) -> None:
    import json

    response = client.http.get("/v2/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.body) == json.loads(json.dumps(document()))


# --- property-based: schemathesis against a live local server -----------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[dict[str, str]]:
    """The app on a real HTTP port (Chalice's local server) over in-process moto."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from chalicelib import aws as factory
    from chalicelib import deps
    from devserver.provision import provision

    previous = os.environ.get("CONDUCTOR_RATE_LIMITS")
    os.environ["CONDUCTOR_RATE_LIMITS"] = (
        '{"read": {"quota": 100000, "window_seconds": 60}, '
        '"write": {"quota": 100000, "window_seconds": 60}, '
        '"admin": {"quota": 100000, "window_seconds": 60}}')
    with moto.mock_aws():
        deps.reset()
        provision(factory.client("dynamodb"), factory.client("sqs"), "test")
        admin = deps.api_keys().create("schemathesis", "admin")["key"]
        port = free_port()
        server = create_local_server(conductor.app, Config(chalice_stage="dev"), "127.0.0.1", port)
        thread = threading.Thread(target=server.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield {"base_url": f"http://127.0.0.1:{port}", "key": admin}
        finally:
            server.shutdown()
            server.server.server_close()
            deps.reset()
    if previous is None:
        os.environ.pop("CONDUCTOR_RATE_LIMITS", None)
    else:
        os.environ["CONDUCTOR_RATE_LIMITS"] = previous


schema = schemathesis.openapi.from_dict(document())


#: No 5xx, and every response as documented. Not "schema-valid data is accepted": an opaque cursor
#: or a reversed time range is valid JSON Schema yet rightly a 400.
API_GATEWAY_METHODS = {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


#: Generated cases per operation: a few in `make test` (every operation, every run), many in
#: `make fuzz` (CONDUCTOR_FUZZ_EXAMPLES=100 by default there).
EXAMPLES = int(os.environ.get("CONDUCTOR_FUZZ_EXAMPLES", "6"))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)  # the same cases on every run: CI stays reproducible
def test_api_conforms_to_its_document(case: Any, live: dict[str, str]) -> None:
    if case.method.upper() not in API_GATEWAY_METHODS:
        return  # e.g. TRACE: API Gateway refuses it before any Lambda runs
    case.call_and_validate(base_url=live["base_url"], checks=CHECKS,
                           headers={"Authorization": f"Bearer {live['key']}"}, timeout=10)
