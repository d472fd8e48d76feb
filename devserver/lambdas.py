"""Run the app's event handlers the way Lambda does: resolve handler strings, build events."""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice import Chalice

ACCOUNT_ID = "123456789012"


@dataclass
class LambdaContext:
    """The parts of Lambda's context object handlers may read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def resolve_handler(handler_string: str) -> Any:
    """``"app.fan_out_events"`` -> the Lambda handler object, exactly as the runtime finds it."""
    module_name, _, attribute = handler_string.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def handler_for(app: Chalice, config: Any) -> Any:
    """The Lambda entry point Chalice built for an event source or WebSocket route.

    For handlers declared on ``app`` this is the object ``resolve_handler(config.handler_string)``
    finds (a test holds Conductor's app to that); looking it up in ``handler_map`` also serves
    apps declared outside a module named ``app``, as the devserver's own tests do.
    """
    return app.handler_map[config.name]


def context_for(name: str) -> LambdaContext:
    return LambdaContext(function_name=name, aws_request_id=str(uuid.uuid4()))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS trigger event as Lambda delivers it, built from ``ReceiveMessage`` results."""
    records = []
    for message in messages:
        attributes = {k: v for k, v in message.get("Attributes", {}).items()}
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def scheduled_event(rule_arn: str, region: str, now: datetime | None = None) -> dict[str, Any]:
    """An EventBridge "Scheduled Event" as a rate/cron rule delivers it."""
    now = now or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def websocket_event(
    route_key: str,
    connection_id: str,
    domain_name: str,
    stage: str,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway WebSocket event for ``$connect``, ``$default`` or ``$disconnect``."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "connectionId": connection_id,
            "domainName": domain_name,
            "stage": stage,
            "apiId": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "connectedAt": int(now.timestamp() * 1000),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    if route_key == "$connect":
        event["headers"] = headers or {}
        event["queryStringParameters"] = query or None
    return event


def sqs_sources(app: Chalice) -> list[Any]:
    return [s for s in app.event_sources if type(s).__name__ == "SQSEventConfig"]


def schedule_sources(app: Chalice) -> list[Any]:
    return [s for s in app.event_sources if type(s).__name__ == "ScheduledEventConfig"]
