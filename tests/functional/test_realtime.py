"""WebSocket handlers and the events fan-out, through the app's Lambda handlers under moto.

moto's management API records what is posted (concatenated); real delivery over a socket is
covered by the gateway and end-to-end tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import deps
from devserver.lambdas import context_for, websocket_event
from tests.functional.aws_calls import count_calls
from tests.functional.helpers import DOMAIN, publish_and_fan_out, sent_to


def ws(
    app_module: Any, route: str, connection_id: str, body: str | None = None, token: str | None = None
) -> Any:
    handler = {
        "$connect": app_module.ws_connect,
        "$default": app_module.ws_message,
        "$disconnect": app_module.ws_disconnect,
    }[route]
    query = {"token": token or app_module.test_token} if route == "$connect" else None
    return handler(
        websocket_event(route, connection_id, DOMAIN, "api", body=body, query=query), context_for(route)
    )


@pytest.fixture
def app_module(aws: dict[str, str], keys: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    import app

    monkeypatch.setattr(app, "test_token", keys["viewer"], raising=False)
    return app


@pytest.mark.parametrize("token", ["", "cnd_unknown-key-000000000000000000", "not-a-key"])
def test_connect_without_a_valid_key_is_refused(app_module: Any, token: str) -> None:
    handler = app_module.ws_connect
    query = {"token": token} if token else None
    result = handler(websocket_event("$connect", "Z=", DOMAIN, "api", query=query), context_for("$connect"))
    assert result["statusCode"] == 401
    assert deps.realtime()._store.get("Z=", 0) is None


def test_connect_records_which_key_opened_the_connection(app_module: Any) -> None:
    assert ws(app_module, "$connect", "Y=")["statusCode"] == 200
    assert deps.realtime()._store.get("Y=", 0).key_id.startswith("key_")


def test_subscribed_connection_receives_and_others_do_not(app_module: Any) -> None:
    # Given two connections, one subscribed to custom.*
    for connection in ("A=", "B="):
        assert ws(app_module, "$connect", connection)["statusCode"] == 200
    ws(app_module, "$default", "A=", json.dumps({"action": "subscribe", "events": ["custom.*"]}))
    ws(app_module, "$default", "B=", json.dumps({"action": "subscribe", "events": ["schedule.*"]}))
    # When a custom event is published and fanned out
    event = publish_and_fan_out(app_module, "custom.thing", {"n": 1})
    # Then only A gets it, after its ack
    assert sent_to("A=") == [
        {"action": "ack", "of": "subscribe", "events": ["custom.*"]},
        {"action": "event", "event": event},
    ]
    assert sent_to("B=") == [{"action": "ack", "of": "subscribe", "events": ["schedule.*"]}]


def test_exact_and_wildcard_subscriptions_deliver_once(app_module: Any) -> None:
    ws(app_module, "$connect", "C=")
    ws(
        app_module,
        "$default",
        "C=",
        json.dumps({"action": "subscribe", "events": ["custom.a", "custom.*", "*"]}),
    )
    event = publish_and_fan_out(app_module, "custom.a", {})
    assert [m for m in sent_to("C=") if m["action"] == "event"] == [{"action": "event", "event": event}]


def test_unsubscribe_and_disconnect_stop_delivery(app_module: Any) -> None:
    for connection in ("D=", "E="):
        ws(app_module, "$connect", connection)
        ws(app_module, "$default", connection, json.dumps({"action": "subscribe", "events": ["custom.*"]}))
    ws(app_module, "$default", "D=", json.dumps({"action": "unsubscribe", "events": ["custom.*"]}))
    ws(app_module, "$disconnect", "E=")
    publish_and_fan_out(app_module, "custom.z", {})
    assert not [m for m in sent_to("D=") + sent_to("E=") if m["action"] == "event"]
    assert deps.realtime()._store.get("E=", 0) is None


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_message"),
        ("[1]", "bad_message"),
        ('{"action": "subscribe"}', "validation_error"),
        ('{"action": "subscribe", "events": ["Bad Pattern"]}', "validation_error"),
        ('{"action": "subscribe", "events": []}', "validation_error"),
        ('{"action": "dance"}', "unknown_action"),
    ],
)
def test_bad_messages_get_an_error_reply(app_module: Any, message: str, code: str) -> None:
    ws(app_module, "$connect", "F=")
    ws(app_module, "$default", "F=", message)
    assert sent_to("F=") == [
        {"action": "error", "error": {"code": code, "message": sent_to("F=")[0]["error"]["message"]}}
    ]


def test_ping_pong(app_module: Any) -> None:
    ws(app_module, "$connect", "G=")
    ws(app_module, "$default", "G=", '{"action": "ping"}')
    assert sent_to("G=") == [{"action": "pong"}]


def test_connection_remembers_its_management_endpoint(app_module: Any, monkeypatch) -> None:
    ws(app_module, "$connect", "H=")
    assert deps.realtime()._store.get("H=", 0).endpoint == f"https://{DOMAIN}/api"


def test_a_gone_connection_is_removed(app_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto never answers Gone, so the sender is replaced by one that does
    class GoneSender:
        def post_to_connection(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "GoneException", "Message": "gone"}}, "PostToConnection")

    ws(app_module, "$connect", "I=")
    ws(app_module, "$default", "I=", json.dumps({"action": "subscribe", "events": ["*"]}))
    realtime = deps.realtime()
    monkeypatch.setattr(realtime, "_sender", lambda _endpoint: GoneSender())
    publish_and_fan_out(app_module, "custom.bye", {})
    assert realtime._store.get("I=", 0) is None
    assert deps.fan_out()._index.matching(["*"], 0).connections == frozenset()


def test_fan_out_cost_follows_subscribers_not_connections(app_module: Any) -> None:
    # Given 30 connections of which 3 subscribe to custom.*
    for i in range(30):
        ws(app_module, "$connect", f"K{i}=")
    for i in range(3):
        ws(app_module, "$default", f"K{i}=", json.dumps({"action": "subscribe", "events": ["custom.*"]}))
    event = deps.event_bus().publish("custom.count", {})
    # When one event is fanned out, Then: its patterns' sets (custom.count, custom.*, *) in one
    # BatchGetItem, the 3 connections in another, 3 posts
    with count_calls() as calls:
        assert deps.fan_out().publish(event) == (0, 3)
    assert calls["Scan"] == 0 and calls["Query"] == 0
    assert calls["BatchGetItem"] == 2
    assert calls["PostToConnection"] == 3


def test_health_reports_every_table_and_queue(api: Any) -> None:
    response = api.get("/v2/dashboard/health")
    assert response.status_code == 200
    report = json.loads(response.body)
    assert report["status"] == "ok" and report["down"] == []
    from chalicelib.config import QUEUES, TABLES

    assert len(report["components"]) == len(TABLES) + len(QUEUES) == 16 + 5


def test_health_names_what_is_down(api: Any) -> None:
    from chalicelib import aws as factory

    factory.client("dynamodb").delete_table(TableName="conductor-test-metrics")
    sqs = factory.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="conductor-test-retries")["QueueUrl"])
    response = api.get("/v2/dashboard/health")
    assert response.status_code == 503
    assert json.loads(response.body)["down"] == ["table:metrics", "queue:retries"]


def test_resume_replays_exactly_the_missed_events_in_order(app_module: Any) -> None:
    # Given a client subscribed to custom.* that saw the first event, then lost its socket
    ws(app_module, "$connect", "R1=")
    ws(app_module, "$default", "R1=", json.dumps({"action": "subscribe", "events": ["custom.*"]}))
    seen = publish_and_fan_out(app_module, "custom.one", {"n": 1})
    ws(app_module, "$disconnect", "R1=")
    missed = [
        publish_and_fan_out(app_module, kind, {"n": n, "schedule_id": f"sch_{n}"})
        for n, kind in enumerate(["custom.two", "schedule.deleted", "custom.three"], start=2)
    ]
    # When it reconnects, resubscribes and resumes after the last event it saw
    ws(app_module, "$connect", "R2=")
    ws(app_module, "$default", "R2=", json.dumps({"action": "subscribe", "events": ["custom.*"]}))
    ws(app_module, "$default", "R2=", json.dumps({"action": "resume", "after": seen["id"]}))
    # Then exactly the missed custom events arrive, oldest first, then the ack
    messages = sent_to("R2=")[1:]
    assert messages == [
        {"action": "event", "event": missed[0]},
        {"action": "event", "event": missed[2]},
        {"action": "ack", "of": "resume", "after": seen["id"], "replayed": 2},
    ]


def test_resume_needs_an_event_id(app_module: Any) -> None:
    ws(app_module, "$connect", "R3=")
    ws(app_module, "$default", "R3=", json.dumps({"action": "resume", "after": "yesterday"}))
    assert sent_to("R3=")[0]["error"]["code"] == "validation_error"


def test_oversized_events_are_sent_as_a_reference(app_module: Any) -> None:
    ws(app_module, "$connect", "T1=")
    ws(app_module, "$default", "T1=", json.dumps({"action": "subscribe", "events": ["*"]}))
    event = publish_and_fan_out(app_module, "custom.big", {"blob": "x" * 40_000})
    pushed = sent_to("T1=")[-1]
    assert pushed == {
        "action": "event",
        "event": {
            "id": event["id"],
            "type": "custom.big",
            "timestamp": event["timestamp"],
            "trimmed": True,
            "link": f"/v2/events/{event['id']}",
        },
    }


def test_webhooks_and_sockets_of_an_event_share_one_read_of_the_index(app_module: Any) -> None:
    from chalicelib.domain.webhooks import Endpoint

    # Given 2 endpoints and 3 sockets subscribed to custom.*
    for i in range(2):
        deps.webhook_store().save(
            Endpoint(
                id=f"whk_{i:026d}",
                url="https://hooks.example.test/x",
                event_types=("custom.*",),
                enabled=True,
                max_attempts=3,
                secret="whsec_AAAA",
                version=1,
                created_at="t",
                updated_at="t",
            ),
            None,
            [],
        )
    for i in range(3):
        ws(app_module, "$connect", f"S{i}=")
        ws(app_module, "$default", f"S{i}=", json.dumps({"action": "subscribe", "events": ["custom.*"]}))
    event = deps.event_bus().publish("custom.count", {})
    # When the event is fanned out
    with count_calls() as calls:
        assert deps.fan_out().publish(event) == (2, 3)
    # Then the index is read once for both: the sets of custom.count, custom.* and * in one
    # BatchGetItem, the endpoints and the connections together in one more
    assert calls["Query"] == 0 and calls["BatchGetItem"] == 2
    assert calls["PostToConnection"] == 3
    assert calls["TransactWriteItems"] == 1 and calls["SendMessageBatch"] == 1  # 2 deliveries
