"""The pure parts of the local runtime: schedule expressions, greedy routes, event shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devserver.lambdas import sqs_event, websocket_event
from devserver.routing import GreedyRouteMatcher
from devserver.workers import next_fire

T0 = datetime(2026, 11, 29, 10, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", datetime(2026, 11, 29, 10, 1, tzinfo=UTC)),
        ("rate(5 minutes)", datetime(2026, 11, 29, 10, 5, tzinfo=UTC)),
        ("rate(1 hour)", datetime(2026, 11, 29, 11, 0, tzinfo=UTC)),
        ("rate(1 day)", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("cron(15 10 * * ? *)", datetime(2026, 11, 29, 10, 15, tzinfo=UTC)),
        ("cron(0/10 * * * ? *)", datetime(2026, 11, 29, 10, 10, tzinfo=UTC)),
    ],
)
def test_next_fire(expression: str, expected: datetime) -> None:
    assert next_fire(expression, T0) == expected


def test_next_fire_is_strictly_after() -> None:
    on_the_minute = datetime(2026, 11, 29, 10, 1, tzinfo=UTC)
    assert next_fire("rate(1 minute)", on_the_minute) == datetime(2026, 11, 29, 10, 2, tzinfo=UTC)


def test_unknown_expression_is_refused() -> None:
    with pytest.raises(ValueError):
        next_fire("every(1 minute)", T0)


def test_greedy_routes_match_any_depth_after_concrete_ones() -> None:
    matcher = GreedyRouteMatcher(["/v2/events", "/v2/events/{event_id}", "/{proxy+}"])
    assert matcher.match_route("/v2/events").route == "/v2/events"
    assert matcher.match_route("/v2/events/evt_1").route == "/v2/events/{event_id}"
    deep = matcher.match_route("/v2/nothing/here?x=1")
    assert deep.route == "/{proxy+}"
    assert deep.captured == {"proxy+": "v2/nothing/here"}
    assert deep.query_params == {"x": ["1"]}


def test_sqs_event_keeps_each_message_identity() -> None:
    messages = [
        {
            "MessageId": f"m{i}",
            "ReceiptHandle": f"r{i}",
            "Body": "{}",
            "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": "x"}},
        }
        for i in range(3)
    ]
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    assert [r["messageId"] for r in event["Records"]] == ["m0", "m1", "m2"]
    assert event["Records"][0]["eventSource"] == "aws:sqs"
    assert event["Records"][0]["messageAttributes"]["event_type"]["stringValue"] == "x"


def test_websocket_connect_event_carries_query_and_context() -> None:
    event = websocket_event("$connect", "abc=", "127.0.0.1:8001", "local", query={"token": "t"})
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["connectionId"]) == (
        "$connect",
        "CONNECT",
        "abc=",
    )
    assert event["queryStringParameters"] == {"token": "t"}
    message = websocket_event("$default", "abc=", "h", "local", body="{}")
    assert message["requestContext"]["eventType"] == "MESSAGE" and message["body"] == "{}"
