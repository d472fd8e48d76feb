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
    documented = {
        (path, method) for path, ops in doc["paths"].items() for method in ops if path.startswith("/v2")
    }
    chalice_routes = {
        (path, method.lower())
        for path, methods in conductor.app.routes.items()
        for method in methods
        if path.startswith("/v2")
    }
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
    served = json.loads(response.body)
    assert served["servers"] == [{"url": "/", "description": "This server"}]
    assert served | {"servers": [{"url": "/"}]} == json.loads(json.dumps(document()))


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
        '"admin": {"quota": 100000, "window_seconds": 60}}'
    )
    with moto.mock_aws():
        deps.reset()
        provision(factory.client("dynamodb"), factory.client("sqs"), "test")
        admin = deps.api_keys().create("schemathesis", "admin")[1]
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
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


#: Generated cases per operation: a few in `make test` (every operation, every run), many in
#: `make fuzz` (CONDUCTOR_FUZZ_EXAMPLES=100 by default there).
EXAMPLES = int(os.environ.get("CONDUCTOR_FUZZ_EXAMPLES", "6"))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)  # the same cases on every run: CI stays reproducible
def test_api_conforms_to_its_document(case: Any, live: dict[str, str]) -> None:
    if case.method.upper() not in API_GATEWAY_METHODS:
        return  # e.g. TRACE: API Gateway refuses it before any Lambda runs
    case.call_and_validate(
        base_url=live["base_url"],
        checks=CHECKS,
        headers={"Authorization": f"Bearer {live['key']}"},
        timeout=10,
    )


# --- the document as reference docs -----------------------------------------------------------


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    # refs are "#/components/schemas/X": resolve them against a root that holds the components
    return Draft202012Validator({"components": doc["components"], "allOf": [schema]})


def test_every_operation_and_parameter_is_described() -> None:
    doc = document()
    for path, method, op in _operations(doc):
        assert op["description"] and op["description"] != op["summary"], (path, method)
        for parameter in op["parameters"]:
            assert parameter["description"], (path, method, parameter["name"])


def test_every_request_and_answer_has_an_example_that_fits_its_schema() -> None:
    doc = document()
    checked = 0
    for path, method, op in _operations(doc):
        bodies = [op["requestBody"]["content"]["application/json"]] if "requestBody" in op else []
        success = next(r for s, r in op["responses"].items() if s.startswith("2"))
        bodies += [success["content"]["application/json"]] if "content" in success else []
        errors = [
            r["content"]["application/json"] for s, r in op["responses"].items() if not s.startswith("2")
        ]
        for content in bodies + errors:
            assert "example" in content, (path, method)
            problems = [e.message for e in _validator(doc, content["schema"]).iter_errors(content["example"])]
            assert not problems, (path, method, problems[:3])
            checked += 1
    assert checked > 200


def test_the_recorded_examples_are_exactly_the_declared_operations() -> None:
    from chalicelib.api.openapi import examples

    # a stale or missing entry means: run `python -m devserver.examples` again
    assert set(examples()) == {spec.operation_id for spec in ROUTES}


def test_response_headers_are_declared_where_they_are_sent() -> None:
    paths = document()["paths"]
    get = paths["/v2/schedules/{schedule_id}"]["get"]["responses"]
    assert {"X-Request-Id", "API-Version", "RateLimit", "RateLimit-Policy", "ETag"} <= set(
        get["200"]["headers"]
    )
    assert "Retry-After" in get["429"]["headers"]
    assert "Location" in paths["/v2/schedules"]["post"]["responses"]["201"]["headers"]
    deprecated = paths["/v1/events"]["get"]
    assert deprecated["deprecated"] is True
    assert {"Deprecation", "Sunset", "Link"} <= set(deprecated["responses"]["200"]["headers"])
    assert set(document()["components"]["headers"]) >= {
        "X-Request-Id",
        "RateLimit",
        "RateLimit-Policy",
        "Retry-After",
        "ETag",
        "Deprecation",
        "Sunset",
    }


def test_the_webhooks_section_is_every_event_type_with_its_data_schema() -> None:
    from chalicelib.domain.events import CATALOG

    doc = document()
    assert set(doc["webhooks"]) == {t.name for t in CATALOG}
    failed = doc["webhooks"]["schedule.failed"]["post"]
    content = failed["requestBody"]["content"]["application/json"]
    assert {p["name"] for p in failed["parameters"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    data = content["schema"]["allOf"][1]["properties"]["data"]
    assert {"schedule_id", "execution_id", "error", "retry_job_id"} <= set(data["required"])
    for name, hook in doc["webhooks"].items():
        body = hook["post"]["requestBody"]["content"]["application/json"]
        problems = list(_validator(doc, body["schema"]).iter_errors(body["example"]))
        assert not problems, (name, problems[:2])


def test_servers_name_the_url_the_document_was_fetched_through() -> None:
    from chalicelib.api.openapi import servers_for

    # API Gateway's own domain: the stage is the first path segment
    assert servers_for(
        {
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "stage": "api",
            "path": "/api/v2/openapi.json",
        }
    ) == [{"url": "https://abc123.execute-api.eu-west-1.amazonaws.com/api", "description": "stage api"}]
    # a custom domain mapped at its root, and the local runtime
    assert (
        servers_for({"domainName": "conductor.example.com", "stage": "prod", "path": "/v2/openapi.json"})[0][
            "url"
        ]
        == "https://conductor.example.com"
    )
    assert servers_for({"path": "/v2/openapi.json"})[0]["url"] == "/"


def test_the_reference_page_and_its_files_are_served_without_a_cdn(client: Any) -> None:
    page = client.http.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    assert 'src="docs/swagger-ui-bundle.js"' in html and "https://" not in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    for name in ("docs.js", "docs.css", "swagger-ui-bundle.js", "swagger-ui.css"):
        asset = client.http.get(f"/docs/{name}")
        assert asset.status_code == 200 and len(asset.body) > 100, name
    assert "validatorUrl: null" in client.http.get("/docs/docs.js").body.decode()
    missing = client.http.get("/docs/../app.py")
    assert missing.status_code == 404
