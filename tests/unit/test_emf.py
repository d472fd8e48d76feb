"""Conductor's CloudWatch metrics are valid Embedded Metric Format documents (the rules of the
format's specification, as a JSON Schema, plus the ones a schema cannot say: every dimension a
string member of the root, every metric a number member)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from chalicelib.domain import emf
from chalicelib.services.metrics import MetricsService

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
#: the EMF specification's document structure (docs.aws.amazon.com, "Specification: Embedded
#: metric format"), written out as a JSON Schema
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": _NAME,
                            "Dimensions": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"type": "array", "maxItems": 9, "items": _NAME},
                            },
                            "Metrics": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": _NAME,
                                        "Unit": {"enum": sorted(emf.UNITS)},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def valid(document: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(document, SCHEMA)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(document[key], str) for key in dimension_set)
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], int | float)
    return document


def test_a_document_is_valid_emf_under_the_stage_and_each_dimension() -> None:
    doc = valid(
        emf.document(
            {"Requests": (1, "Count"), "Latency": (12.5, "Milliseconds")},
            {"Stage": "prod", "Route": "GET /v2/schedules/{schedule_id}"},
            1_765_000_000_000,
        )
    )
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"], ["Stage", "Route"]]
    assert (doc["Requests"], doc["Latency"], doc["Stage"]) == (1, 12.5, "prod")


def test_what_the_format_refuses_is_refused_before_it_is_written() -> None:
    with pytest.raises(ValueError, match="unit"):
        emf.document({"Requests": (1, "Counts")}, {"Stage": "x"}, 0)
    with pytest.raises(ValueError, match="at least one"):
        emf.document({}, {"Stage": "x"}, 0)
    with pytest.raises(ValueError, match="at most 100"):
        emf.document({f"M{i}": (1, "Count") for i in range(101)}, {"Stage": "x"}, 0)
    with pytest.raises(jsonschema.ValidationError):  # and the schema is not a test that passes
        valid(
            {
                "_aws": {
                    "Timestamp": 1,
                    "CloudWatchMetrics": [
                        {"Namespace": "C", "Dimensions": [["Stage"]], "Metrics": [{"Unit": "Count"}]}
                    ],
                }
            }
        )


def test_the_service_writes_one_line_per_count_named_and_dimensioned_for_cloudwatch() -> None:
    # (no store: counts wait in memory for a flush this test never makes)
    lines: list[str] = []
    service = MetricsService(None, emf_line=lines.append, stage="prod")  # type: ignore[arg-type]
    service.request(503, 41.0, "POST /v2/errors/retry")
    service.count("retries", "ledger", {"succeeded": 1, "attempts": 1})
    service.count("webhooks", "whk_01ABC", {"attempts": 1, "delivered": 0}, ("latency", 88.0))
    service.count("breakers", "ledger", {"open": 1})
    service.count("reconciler", "delivery", {"recovered": 1})
    docs = [valid(json.loads(line)) for line in lines]
    request, retry, delivery, breaker, recovered = docs
    assert (request["Requests"], request["Errors5xx"], request["Route"]) == (1, 1, "POST /v2/errors/retry")
    assert (retry["RetrySucceeded"], retry["RetryAttempts"], retry["Service"]) == (1, 1, "ledger")
    # an endpoint is an id: never a dimension (a metric per endpoint would bill per endpoint)
    assert delivery["DeliveryLatency"] == 88.0 and "DeliveriesDelivered" not in delivery
    assert delivery["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"]]
    assert breaker["BreakerOpened"] == 1 and recovered["Kind"] == "delivery"
    assert all(d["Stage"] == "prod" for d in docs)


def test_without_a_line_writer_nothing_is_made() -> None:
    service = MetricsService(None)  # type: ignore[arg-type]
    service.request(200, 1.0, "GET /v2/events")  # no writer: no error, no line
