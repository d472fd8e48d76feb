"""The local runtime's emulation of Lambda event sources, against moto and a real socket."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from typing import Any

import boto3
import pytest
import websockets
import websockets.exceptions
from botocore.exceptions import ClientError
from moto import mock_aws

from devserver.gateway import WebSocketGateway
from devserver.lambdas import handler_for, resolve_handler, schedule_sources, sqs_sources
from devserver.runtime import free_port
from devserver.workers import SqsPoller, Ticker
from tests.functional import fixture_app


@pytest.fixture(autouse=True)
def _clear_fixture_state() -> None:
    fixture_app.received.clear()
    fixture_app.ticks.clear()
    fixture_app.ws_log.clear()


def test_devserver_runs_exactly_the_objects_lambda_would_import() -> None:
    import app as conductor

    configs = [*conductor.app.event_sources, *conductor.app.websocket_handlers.values()]
    assert configs
    for config in configs:
        assert handler_for(conductor.app, config) is resolve_handler(config.handler_string)


@pytest.fixture
def queue() -> Any:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="fixture-queue-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        url = sqs.create_queue(
            QueueName="fixture-queue",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})},
        )["QueueUrl"]
        source = sqs_sources(fixture_app.app)[0]
        poller = SqsPoller(
            fixture_app.app,
            sqs,
            source,
            url,
            "us-east-1",
            threading.Event(),
            redelivery_seconds=0,
            wait_seconds=0,
        )
        yield sqs, url, dlq, poller


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_a_handled_batch_is_deleted(queue: Any) -> None:
    sqs, url, dlq, poller = queue
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    assert poller.poll_once() == 3
    assert sorted(fixture_app.received) == ["a", "b", "c"]
    assert _count(sqs, url) == 0 and _count(sqs, dlq) == 0


def test_reported_failures_stay_and_the_rest_is_deleted(queue: Any) -> None:
    sqs, url, _dlq, poller = queue
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    sqs.send_message(QueueUrl=url, MessageBody="partial-1")
    poller.poll_once()
    fixture_app.received.clear()
    assert poller.poll_once() == 1
    assert fixture_app.received == ["partial-1"]


def test_a_poison_message_is_redelivered_then_reaches_the_dlq(queue: Any) -> None:
    # Given a message the handler always fails on, and maxReceiveCount 3
    sqs, url, dlq, poller = queue
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    # When the poller keeps receiving (bounded)
    for _ in range(6):
        poller.poll_once()
    # Then it was tried maxReceiveCount times and SQS moved it to the DLQ
    assert fixture_app.received == ["poison"] * 3
    assert _count(sqs, url) == 0
    moved = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    assert [m["Body"] for m in moved] == ["poison"]


def test_ticker_fires_due_schedules_with_an_eventbridge_event() -> None:
    ticker = Ticker(fixture_app.app, schedule_sources(fixture_app.app), "us-east-1", threading.Event())
    job = ticker.jobs[0]
    due = job["next"]
    assert ticker.fire_due(due - timedelta(seconds=1)) == 0
    assert ticker.fire_due(due) == 1
    assert job["next"] == due + timedelta(minutes=1)
    event = fixture_app.ticks[0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/every_minute")
    assert event["time"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Any:
    port = free_port()
    monkeypatch.setenv("FIXTURE_WS_ENDPOINT", f"http://127.0.0.1:{port}")
    gw = WebSocketGateway(fixture_app.app, "127.0.0.1", port)
    gw.start()
    yield gw
    gw.stop()


def test_gateway_round_trip_through_post_to_connection(gateway: WebSocketGateway) -> None:
    url = f"ws://127.0.0.1:{gateway.port}/?token=ok"

    async def talk() -> Any:
        async with websockets.connect(url, open_timeout=5) as socket:
            await socket.send("hello")
            return json.loads(await asyncio.wait_for(socket.recv(), timeout=5))

    assert asyncio.run(talk()) == {"echo": "hello"}
    kinds = [entry[0] for entry in fixture_app.ws_log]
    assert kinds[:2] == ["connect", "message"]
    for _ in range(50):  # the disconnect handler runs just after the close; bounded wait
        if "disconnect" in [e[0] for e in fixture_app.ws_log]:
            break
        threading.Event().wait(0.05)
    assert [e[0] for e in fixture_app.ws_log] == ["connect", "message", "disconnect"]
    assert len({e[1] for e in fixture_app.ws_log}) == 1  # one connection id throughout


def test_gateway_refuses_a_connection_its_connect_handler_refuses(
    gateway: WebSocketGateway,
) -> None:
    async def attempt() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{gateway.port}/?token=bad", open_timeout=5):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        asyncio.run(attempt())
    assert info.value.response.status_code == 403


def test_posting_to_an_unknown_connection_is_gone(gateway: WebSocketGateway) -> None:
    client = boto3.client(
        "apigatewaymanagementapi", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{gateway.port}"
    )
    with pytest.raises(ClientError) as info:
        client.post_to_connection(ConnectionId="nobody=", Data=b"x")
    assert info.value.response["Error"]["Code"] == "GoneException"


def test_moto_dynamodb_takes_one_action_at_a_time(aws: dict[str, str]) -> None:
    """moto's TransactWriteItems deep-copies the tables it touches, and another thread's write
    during the copy failed it ('dictionary changed size during iteration': a 500 from the batch
    route, 10 creates at a time). devserver/motofix.py has every moto DynamoDB action take one
    lock; shown here by holding it: a write from another thread waits for it."""
    import threading

    from chalicelib import aws as factory
    from chalicelib.config import get_settings
    from devserver import motofix

    db, table = factory.client("dynamodb"), get_settings().tables["idempotency"]
    done = threading.Event()

    def write() -> None:
        db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {
                            "key": {"S": "k"},
                            "result_id": {"S": "x"},
                            "created_at": {"S": "t"},
                            "expires_at": {"N": "2000000000"},
                        },
                    }
                }
            ]
        )
        done.set()

    # Given the lock held here, When another thread writes, Then it waits until it is released
    with motofix._LOCK:
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.5)
    assert done.wait(10)
    writer.join(timeout=10)
    assert db.get_item(TableName=table, Key={"key": {"S": "k"}}).get("Item")


def test_a_refused_moto_transaction_leaves_every_item_as_it_was(aws: dict[str, str]) -> None:
    """devserver/motofix.py rolls a refused transaction back item by item (moto copied whole
    tables for it): what it wrote before the refusal is undone, what it replaced comes back."""
    import pytest
    from botocore.exceptions import ClientError

    from chalicelib import aws as factory
    from chalicelib.config import get_settings

    db, table = factory.client("dynamodb"), get_settings().tables["idempotency"]

    def item(name: str, result: str) -> dict[str, Any]:
        return {
            "key": {"S": name},
            "result_id": {"S": result},
            "created_at": {"S": "t"},
            "expires_at": {"N": "2000000000"},
        }

    db.put_item(TableName=table, Item=item("kept", "before"))
    db.put_item(TableName=table, Item=item("taken", "first"))
    # When a transaction writes a new item, replaces one, then fails a condition on a third
    with pytest.raises(ClientError, match="TransactionCanceled"):
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item("new", "x")}},
                {"Put": {"TableName": table, "Item": item("kept", "after")}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": item("taken", "second"),
                        "ConditionExpression": "attribute_not_exists(#k)",
                        "ExpressionAttributeNames": {"#k": "key"},
                    }
                },
            ]
        )

    # Then nothing of it remains
    def result(name: str) -> str | None:
        found = db.get_item(TableName=table, Key={"key": {"S": name}}).get("Item")
        return found["result_id"]["S"] if found else None

    assert (result("new"), result("kept"), result("taken")) == (None, "before", "first")
