"""A tiny Chalice app for testing the local runtime's event-source emulation on its own."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from chalice import Chalice
from chalice.app import CloudWatchEvent, SQSEvent, WebsocketEvent

app = Chalice(app_name="fixture")
received: list[str] = []
ticks: list[dict[str, Any]] = []
ws_log: list[tuple[str, str, str | None]] = []


@app.on_sqs_message(queue="fixture-queue", batch_size=10)
def consume(event: SQSEvent) -> dict[str, Any]:
    failures = []
    for record in event:
        received.append(record.body)
        if record.body == "poison":
            raise RuntimeError("cannot process poison")
        if record.body.startswith("partial"):
            failures.append({"itemIdentifier": record.to_dict()["messageId"]})
    return {"batchItemFailures": failures}


@app.schedule("rate(1 minute)")
def every_minute(event: CloudWatchEvent) -> None:
    ticks.append(event.to_dict())


@app.on_ws_connect()
def connect(event: WebsocketEvent) -> dict[str, Any]:
    token = (event.to_dict().get("queryStringParameters") or {}).get("token")
    ws_log.append(("connect", event.connection_id, token))
    return {"statusCode": 200 if token == "ok" else 403}


@app.on_ws_message()
def message(event: WebsocketEvent) -> None:
    ws_log.append(("message", event.connection_id, event.body))
    management = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["FIXTURE_WS_ENDPOINT"])
    management.post_to_connection(
        ConnectionId=event.connection_id, Data=json.dumps({"echo": event.body}).encode()
    )


@app.on_ws_disconnect()
def disconnect(event: WebsocketEvent) -> None:
    ws_log.append(("disconnect", event.connection_id, None))
