"""Helpers the functional tests share: driving the SQS handlers as Lambda would, the API calls
most tests start from, and what moto's WebSocket management API recorded."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from chalicelib import aws as factory
from chalicelib import deps
from devserver.lambdas import context_for, scheduled_event, sqs_event
from tests.conftest import Api, Clock, body, queue_messages

FAST = {"strategy": "fixed", "initial_delay_seconds": 0, "jitter": "none", "max_attempts": 3}
ARN = "arn:aws:sqs:us-east-1:123456789012:"
DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"


def receive(queue: str, max_batches: int = 20, sqs: Any = None) -> list[list[dict[str, Any]]]:
    """Every batch currently visible on ``queue`` (bounded), through ``sqs`` (default: the
    configured client)."""
    sqs = sqs or factory.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    batches = []
    for _ in range(max_batches):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        batches.append(messages)
    return batches


def delete(queue: str, messages: list[dict[str, Any]]) -> None:
    sqs = factory.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def drain(app_module: Any, handler: str, queue: str, rounds: int) -> int:
    """Feed ``queue`` to the Lambda handler ``handler`` as Lambda would, until it is empty
    (bounded: at most ``rounds`` passes); returns how many messages were handled."""
    handled = 0
    for _ in range(rounds):
        batches = receive(queue)
        if not batches:
            break
        for messages in batches:
            getattr(app_module, handler)(sqs_event(messages, ARN + queue, "us-east-1"), context_for(handler))
            delete(queue, messages)
            handled += len(messages)
    return handled


def run_attempts(app_module: Any, rounds: int = 10) -> int:
    """The retries queue through its handler."""
    return drain(app_module, "run_retry_attempts", "conductor-test-retries", rounds)


def new_job(api: Api, url: str, **extra: Any) -> dict[str, Any]:
    request = {
        "service": "payments",
        "target": {"type": "http", "method": "POST", "url": url, "body": {"order": 1}},
        "error": {"type": "HTTP503", "message": "upstream down"},
        "retry_policy": FAST,
        **extra,
    }
    response = api.post("/v2/errors/retry", request)
    assert response.status_code in (200, 201), response.body
    return body(response)


def tick(app_module: Any, clock: Clock) -> None:
    """The minute tick, then its dispatch messages through their workers (as Lambda would)."""
    app_module.scheduler_tick(
        scheduled_event("arn:aws:events:us-east-1:1:rule/tick", "us-east-1", clock.now),
        context_for("scheduler_tick"),
    )
    run_dispatch(app_module)


def run_dispatch(app_module: Any, rounds: int = 20) -> int:
    """The dispatch queue through its workers: the tick's due schedules fired."""
    return drain(app_module, "dispatch_due_schedules", "conductor-test-dispatch", rounds)


def run_executions(app_module: Any, rounds: int = 5) -> int:
    """The executions queue through its handler."""
    return drain(app_module, "run_schedule_executions", "conductor-test-executions", rounds)


def schedule(api: Api, url: str, **extra: Any) -> dict[str, Any]:
    request = {
        "name": "nightly",
        "expression": "cron(0 9 * * *)",
        "timezone": "UTC",
        "target": {"type": "http", "method": "POST", "url": url, "body": {"job": "x"}},
        "retry_policy": {"max_attempts": 1},
        **extra,
    }
    response = api.post("/v2/schedules", request)
    assert response.status_code == 201, response.body
    return body(response)


def pump(app_module: Any, rounds: int = 12) -> None:
    """Run the events fan-out and the deliveries handler until both queues are empty (bounded)."""
    for _ in range(rounds):
        moved = 0
        for queue, handler in (
            ("conductor-test-events", app_module.fan_out_events),
            ("conductor-test-webhook-deliveries", app_module.deliver_webhooks),
        ):
            for messages in receive(queue):
                handler(sqs_event(messages, ARN + queue, "us-east-1"), context_for("x"))
                delete(queue, messages)
                moved += len(messages)
        if not moved:
            return


def endpoint(api: Api, url: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/v2/webhooks", {"url": url, "event_types": ["custom.*"], **extra})
    assert response.status_code == 201, response.body
    return body(response)


def sent_to(connection_id: str) -> list[dict[str, Any]]:
    """Every message moto recorded for a connection, split back into JSON objects."""
    backend = apigatewaymanagementapi_backends["123456789012"]["us-east-1"]
    key = quote(connection_id, safe="")  # moto keys connections by the id as it is in the path
    raw = backend.connections[key].data.decode() if key in backend.connections else ""
    decoder, found, index = json.JSONDecoder(), [], 0
    while index < len(raw):
        obj, index = decoder.raw_decode(raw, index)
        found.append(obj)
    return found


def publish_and_fan_out(app_module: Any, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Publish through the bus, then run the SQS handler on what reached the events queue."""
    event = deps.event_bus().publish(event_type, data).to_dict()
    messages = queue_messages("conductor-test-events")
    sqs = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:conductor-test-events", "us-east-1")
    app_module.fan_out_events(sqs, context_for("fan_out_events"))
    return event
