"""Webhooks end to end under moto: publish -> fan-out handler -> delivery handler -> a real
receiver on 127.0.0.1, whose requests are verified with the standardwebhooks library."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib import deps
from devserver.lambdas import context_for, sqs_event
from tests.conftest import Api, Clock
from tests.functional.aws_calls import count_calls
from tests.functional.helpers import ARN, delete, endpoint, pump, receive
from tests.functional.receivers import Receiver


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """No waiting between attempts (the schedule itself is unit-sized in docs/webhooks.md)."""
    monkeypatch.setattr("chalicelib.domain.webhooks.SCHEDULE_SECONDS", (0,) * 7)


def verified(secret: str, request: dict[str, Any]) -> Any:
    lib = Webhook(secret)
    lib._Webhook__verify_timestamp = lambda ts: datetime.fromtimestamp(int(ts), tz=UTC)  # type: ignore[attr-defined]
    return lib.verify(request["body"].decode(), request["headers"])


def test_delivered_first_time_signed_per_the_standard(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    hook = endpoint(api, target.url, headers={"X-Env": "test"})
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in body(api.get(f"/v2/webhooks/{hook['id']}"))
    event = body(api.post("/v2/events", {"type": "custom.order", "data": {"n": 1}}))
    pump(app_module)
    [request] = target.requests
    assert verified(hook["secret"], request) == event
    assert request["headers"]["X-Env"] == "test"
    [delivery] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]
    assert delivery["status"] == "delivered" and delivery["event_id"] == event["id"]
    assert request["headers"]["webhook-id"] == delivery["id"]


def test_500_twice_then_200_three_attempts_one_webhook_id(
    api: Api, app_module: Any, clock: Clock, target: Receiver, fast: None
) -> None:
    target.set_script([(500, {}), (500, {}), (200, {})])
    hook = endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    assert len({r["headers"]["webhook-id"] for r in target.requests}) == 1
    [summary] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]
    delivery = body(api.get(f"/v2/webhooks/deliveries/{summary['id']}"))
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert delivery["attempts"][0]["response_body"] == '{"status": 500}'
    # and the endpoint's numbers say so: every delivery made it, two of three attempts failed
    [row] = [r for r in body(api.get("/v2/metrics/webhooks"))["items"] if r["id"] == hook["id"]]
    assert (row["delivered"], row["failed"], row["success_rate"]) == (1, 0, 1.0)
    assert (row["attempts"], row["failed_attempts"]) == (3, 2)
    summary_all = body(api.get("/v2/metrics/summary"))["webhooks"]
    assert summary_all["attempts"] - summary_all["delivered"] == 2


def test_always_500_fails_with_a_dead_letter_and_an_event(
    api: Api, app_module: Any, clock: Clock, target: Receiver, fast: None
) -> None:
    target.set_script([(500, {})])
    hook = endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    [summary] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries?status=failed"))["items"]
    assert summary["attempt_count"] == 3 and len(target.requests) == 3
    entry = body(api.get(f"/v2/dlq/{summary['dead_letter_id']}"))
    assert entry["source"] == "webhook" and entry["payload"]["delivery_id"] == summary["id"]
    [failed] = deps.event_bus().list(10, event_type="webhook.failed").events
    assert failed.data["delivery_id"] == summary["id"]
    # the failure event is not itself delivered to webhooks (no feedback loop)
    pump(app_module)
    assert len(target.requests) == 3


def test_a_timeout_is_a_failed_attempt(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a receiver slower than the read timeout (shortened from 15 s for the test)
    monkeypatch.setattr(deps.deliveries(), "timeouts", (1.0, 0.3))
    target.delay_seconds = 0.8
    hook = endpoint(api, target.url, max_attempts=1)
    api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    [summary] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]
    delivery = body(api.get(f"/v2/webhooks/deliveries/{summary['id']}"))
    assert delivery["status"] == "failed" and len(target.requests) == 1
    assert delivery["attempts"][0]["error"]["type"] == "Timeout"


def test_410_disables_the_endpoint(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    target.set_script([(410, {})])
    hook = endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    again = body(api.get(f"/v2/webhooks/{hook['id']}"))
    assert again["enabled"] is False and "410" in again["disabled_reason"]
    api.post("/v2/events", {"type": "custom.y"})
    pump(app_module)
    assert len(target.requests) == 1  # nothing more to a disabled endpoint
    assert deps.event_bus().list(10, event_type="webhook.disabled").events


def test_retry_after_is_honoured(
    api: Api, app_module: Any, clock: Clock, target: Receiver, fast: None
) -> None:
    target.set_script([(503, {"Retry-After": "120"}), (200, {})])
    hook = endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    [summary] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]
    assert summary["status"] == "pending" and len(target.requests) == 1
    expected = clock.now + timedelta(seconds=120)
    assert summary["next_attempt_at"] == expected.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_event_type_filtering_and_wildcards(api: Api, app_module: Any, clock: Clock) -> None:
    from tests.functional.receivers import receiver

    with receiver([(200, {})]) as exact, receiver([(200, {})]) as wildcard, receiver([(200, {})]) as other:
        api.post("/v2/webhooks", {"url": exact.url, "event_types": ["custom.a"]})
        api.post("/v2/webhooks", {"url": wildcard.url, "event_types": ["*"]})
        api.post("/v2/webhooks", {"url": other.url, "event_types": ["schedule.*"]})
        api.post("/v2/events", {"type": "custom.a"})
        api.post("/v2/events", {"type": "custom.b"})
        pump(app_module)
        types = lambda r: sorted(json.loads(q["body"])["type"] for q in r.requests)  # noqa: E731
        assert types(exact) == ["custom.a"]
        assert "custom.a" in types(wildcard) and "custom.b" in types(wildcard)
        assert types(other) == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.1/hook", "private"),
    ],
)
def test_ssrf_targets_are_refused_at_registration(api: Api, clock: Clock, url: str, words: str) -> None:
    response = api.post("/v2/webhooks", {"url": url, "event_types": ["*"]})
    assert response.status_code == 400
    assert words in body(response)["error"]["details"][0]["problem"]


def test_a_hostname_resolving_to_loopback_is_refused_when_not_allowed(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = endpoint(api, target.url, max_attempts=1)  # allowed while registering
    monkeypatch.setattr(deps.outbound_guard(), "allow", [])  # now loopback is no longer allowed
    response = api.post("/v2/webhooks", {"url": "http://localhost:1/hook", "event_types": ["*"]})
    assert response.status_code == 400 and "loopback" in json.dumps(body(response))
    api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    assert target.requests == []  # refused again at connect time
    [summary] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]
    detail = body(api.get(f"/v2/webhooks/deliveries/{summary['id']}"))
    assert detail["attempts"][0]["error"]["type"] == "ForbiddenTarget"


def test_rotation_signs_with_both_secrets(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    hook = endpoint(api, target.url)
    rotated = body(api.post(f"/v2/webhooks/{hook['id']}/rotate-secret"))
    assert rotated["secret"] != hook["secret"]
    api.post(f"/v2/webhooks/{hook['id']}/test")
    pump(app_module)
    [request] = target.requests
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert verified(hook["secret"], request)["type"] == "webhook.test"  # receivers on the old one
    assert verified(rotated["secret"], request)["type"] == "webhook.test"  # and the new one
    clock.now += timedelta(hours=25)  # after the grace period only the new secret signs
    api.post(f"/v2/webhooks/{hook['id']}/test")
    pump(app_module)
    assert len(target.requests[1]["headers"]["webhook-signature"].split(" ")) == 1


def test_redeliver_and_recover(api: Api, app_module: Any, clock: Clock, target: Receiver, fast: None) -> None:
    target.set_script([(500, {})])
    hook = endpoint(api, target.url, max_attempts=1)
    for _ in range(2):
        api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    failed = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries?status=failed"))["items"]
    assert len(failed) == 2
    target.set_script([(200, {})])
    again = api.post(f"/v2/webhooks/deliveries/{failed[0]['id']}/redeliver")
    assert again.status_code == 202
    pump(app_module)
    assert body(api.get(f"/v2/webhooks/deliveries/{failed[0]['id']}"))["status"] == "delivered"
    recovered = body(
        api.post(
            f"/v2/webhooks/{hook['id']}/recover", {"since": (clock.now - timedelta(hours=1)).isoformat()}
        )
    )
    assert recovered["redelivered"] == 1
    pump(app_module)
    statuses = {d["status"] for d in body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]}
    assert statuses == {"delivered"}
    assert target.requests[-1]["headers"]["webhook-id"] in {d["id"] for d in failed}


def test_a_failure_streak_disables_the_endpoint(
    api: Api, app_module: Any, clock: Clock, target: Receiver, fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deps.deliveries(), "disable_after", 2)
    target.set_script([(500, {})])
    hook = endpoint(api, target.url, max_attempts=1)
    for _ in range(3):
        api.post("/v2/events", {"type": "custom.x"})
        pump(app_module)
    assert body(api.get(f"/v2/webhooks/{hook['id']}"))["enabled"] is False
    assert len(target.requests) == 2


def test_a_duplicate_event_makes_one_delivery(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.x"})
    [messages] = receive("conductor-test-events")
    event = sqs_event(messages, ARN + "conductor-test-events", "us-east-1")
    app_module.fan_out_events(event, context_for("x"))
    app_module.fan_out_events(event, context_for("x"))  # SQS delivered it twice
    delete("conductor-test-events", messages)
    pump(app_module)
    assert len(target.requests) == 1


def test_fan_out_reads_only_the_matching_subscriptions(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    for i in range(15):
        api.post("/v2/webhooks", {"url": target.url, "event_types": [f"custom.other{i}"]})
    endpoint(api, target.url, event_types=["custom.wanted"])
    published = deps.event_bus().publish("custom.wanted", {})
    with count_calls() as calls:
        assert deps.fan_out().publish(published)[0] == 1
    # its patterns' sets, then its one endpoint (one BatchGetItem each), its delivery, its send
    assert calls["Scan"] == 0 and calls["Query"] == 0 and calls["BatchGetItem"] == 2
    assert calls["TransactWriteItems"] == 1 and calls["SendMessage"] == 1  # one: not a batch
    # and the event leaves the by-due index (one UpdateItem: the reconciler would resend it)
    assert calls["UpdateItem"] == 1
    assert sum(calls.values()) - calls["GetQueueUrl"] == 5, calls  # the URL: once a container


def test_a_batch_of_deliveries_reads_its_endpoints_in_one_call(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given two endpoints and three events: six deliveries queued, each naming its endpoint
    hooks = {endpoint(api, target.url)["id"], endpoint(api, target.url)["id"]}
    for _ in range(3):
        api.post("/v2/events", {"type": "custom.x"})
    for messages in receive("conductor-test-events"):
        app_module.fan_out_events(
            sqs_event(messages, ARN + "conductor-test-events", "us-east-1"), context_for("x")
        )
        delete("conductor-test-events", messages)
    [messages] = receive("conductor-test-webhook-deliveries")
    assert {json.loads(m["Body"])["webhook_id"] for m in messages} == hooks
    # When the deliveries handler takes them as one batch
    with count_calls() as calls:
        app_module.deliver_webhooks(
            sqs_event(messages, ARN + "conductor-test-webhook-deliveries", "us-east-1"), context_for("x")
        )
    # Then both endpoints were read in one call, none one by one
    assert len(target.requests) == len(messages) == 6
    assert calls["BatchGetItem"] == 1 and calls["GetItem"] == 0
    assert calls["UpdateItem"] == 2 * 6  # each delivery's claim and its record


def test_a_delivery_message_without_its_endpoint_id_still_delivers(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from chalicelib.domain.messages import DeliveryAttempt, encode

    # Given a delivery whose message was sent before messages named the endpoint
    endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.x"})
    for messages in receive("conductor-test-events"):
        app_module.fan_out_events(
            sqs_event(messages, ARN + "conductor-test-events", "us-east-1"), context_for("x")
        )
        delete("conductor-test-events", messages)
    [[message]] = receive("conductor-test-webhook-deliveries")
    sent = json.loads(message["Body"])
    old = {**message, "Body": encode(DeliveryAttempt(sent["delivery_id"], 1, clock.now))}
    assert "webhook_id" not in json.loads(old["Body"])
    # When it is handled, Then its endpoint is read by the delivery's own id, and it is delivered
    with count_calls() as calls:
        app_module.deliver_webhooks(
            sqs_event([old], ARN + "conductor-test-webhook-deliveries", "us-east-1"), context_for("x")
        )
    assert len(target.requests) == 1 and calls["GetItem"] == 1


def test_an_event_for_25_endpoints_is_written_and_queued_in_a_few_calls(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given 25 endpoints subscribed to an event (one of them disabled)
    hooks = [endpoint(api, target.url)["id"] for _ in range(25)]
    api.request(
        "PUT", f"/v2/webhooks/{hooks[0]}", {"url": target.url, "event_types": ["custom.*"], "enabled": False}
    )
    published = deps.event_bus().publish("custom.many", {})
    # When it is fanned out
    with count_calls() as calls:
        assert deps.fan_out().publish(published)[0] == 25
    # Then its 25 deliveries were one transaction and their 24 messages three batches
    assert calls["TransactWriteItems"] == 1 and calls["PutItem"] == 0
    assert calls["SendMessageBatch"] == 3 and calls["SendMessage"] == 0
    # sets, endpoints, writes, sends, the event out of the by-due index (and the queue's URL:
    # once a container)
    assert sum(calls.values()) - calls["GetQueueUrl"] == 1 + 1 + 1 + 3 + 1, calls
    # And fanned out again (SQS delivered the event twice), nothing is made or sent twice
    with count_calls() as again:
        assert deps.fan_out().publish(published)[0] == 25
    assert again["SendMessageBatch"] == 0 and again["BatchGetItem"] == 3  # + those found
    pump(app_module)
    assert len(target.requests) == 24
    statuses = [json.loads(api.get(f"/v2/webhooks/{h}/deliveries").body)["items"][0]["status"] for h in hooks]
    assert statuses == ["skipped"] + ["delivered"] * 24


def test_events_over_the_size_limit_are_refused_at_publish(api: Api, clock: Clock) -> None:
    response = api.post("/v2/events", {"type": "custom.big", "data": {"x": "a" * 70_000}})
    assert response.status_code == 413
    assert body(response)["error"]["details"][0]["field"] == "data"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://x", "event_types": ["*"]}, "url"),
        ({"url": "http://127.0.0.1:1/", "event_types": []}, "event_types"),
        ({"url": "http://127.0.0.1:1/", "event_types": ["Bad Pattern"]}, "event_types.0"),
        ({"url": "http://127.0.0.1:1/", "event_types": ["*"], "max_attempts": 9}, "max_attempts"),
    ],
)
def test_bad_webhook_requests(api: Api, clock: Clock, payload: dict[str, Any], field: str) -> None:
    response = api.post("/v2/webhooks", payload)
    assert response.status_code == 400
    assert field in {d["field"] for d in body(response)["error"]["details"]}


def test_an_endpoint_can_have_its_own_retry_schedule(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given an endpoint that retries after 60 s, then 600 s (so 3 attempts)
    target.set_script([(500, {})])
    hook = endpoint(api, target.url, retry_schedule=[60, 600])
    assert (hook["retry_schedule"], hook["max_attempts"]) == ([60, 600], 3)
    # When its first attempt fails
    api.post("/v2/events", {"type": "custom.x"})
    pump(app_module)
    [summary] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]
    # Then the next one is due after its own first delay (+-20 % jitter), not the default 5 s
    due = datetime.fromisoformat(summary["next_attempt_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=48) <= due - clock.now <= timedelta(seconds=72)
    assert summary["max_attempts"] == 3
    # and the schedule is part of the settings: shown, changed, removed
    changed = body(
        api.request(
            "PUT",
            f"/v2/webhooks/{hook['id']}",
            {"url": target.url, "event_types": ["custom.*"], "retry_schedule": [30]},
        )
    )
    assert (changed["retry_schedule"], changed["max_attempts"]) == ([30], 2)
    default = body(
        api.request("PUT", f"/v2/webhooks/{hook['id']}", {"url": target.url, "event_types": ["custom.*"]})
    )
    assert (default["retry_schedule"], default["max_attempts"]) == (None, 3)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"retry_schedule": [60, 600], "max_attempts": 5}, "max_attempts must be 3"),
        ({"retry_schedule": [0]}, "greater than or equal to 1"),
        ({"retry_schedule": [1] * 8}, "at most 7"),
        ({"retry_schedule": []}, "at least 1"),
    ],
)
def test_a_retry_schedule_that_does_not_add_up_is_refused(
    api: Api, clock: Clock, fields: dict[str, Any], problem: str
) -> None:
    response = api.post("/v2/webhooks", {"url": "http://127.0.0.1:9/", "event_types": ["*"], **fields})
    assert response.status_code == 400
    assert problem in json.dumps(body(response)["error"]["details"])


def test_recover_costs_one_write_per_delivery_and_a_send_per_ten(
    api: Api, clock: Clock, target: Receiver
) -> None:
    from chalicelib.domain.webhooks import Delivery
    from chalicelib.store.webhooks import DeliveryStore

    # Given an endpoint with 25 failed deliveries
    hook = endpoint(api, target.url)
    store = DeliveryStore()
    for i in range(25):
        store.create_once(
            Delivery(
                id=f"dlv_{i:026d}",
                webhook_id=hook["id"],
                event_id=f"evt_{i}",
                event_type="custom.x",
                payload="{}",
                status="failed",
                max_attempts=3,
                attempt_count=3,
                created_at="2026-11-30T08:00:00.000Z",
                updated_at="t",
                expires_at=2_000_000_000,
            )
        )
    # When they are recovered
    with count_calls() as calls:
        answer = api.post(f"/v2/webhooks/{hook['id']}/recover", {"since": "2026-11-30T00:00:00Z"})
    # Then each cost one conditional write, and their messages went 10 a call
    assert answer.status_code == 202 and json.loads(answer.body)["redelivered"] == 25
    assert calls["UpdateItem"] == 25 + 1  # + the request's rate-limit bucket
    assert calls["SendMessageBatch"] == 3 and calls["SendMessage"] == 0
    assert sum(calls.values()) <= 1.2 * 25 + 3  # + endpoint read, the Query, the bucket
    assert {m["Body"] for batch in receive("conductor-test-webhook-deliveries") for m in batch}


def test_a_rare_status_is_listed_without_reading_the_others(api: Api, target: Receiver) -> None:
    from chalicelib.domain.webhooks import Delivery
    from chalicelib.store.webhooks import DeliveryStore

    # Given 100 delivered deliveries and one failed one
    hook = endpoint(api, target.url)
    for i in range(101):
        DeliveryStore().create_once(
            Delivery(
                id=f"dlv_{i:026d}",
                webhook_id=hook["id"],
                event_id=f"evt_{i}",
                event_type="custom.x",
                payload="{}",
                status="failed" if i == 3 else "delivered",
                max_attempts=3,
                created_at=f"2026-11-30T08:{i // 60:02d}:{i % 60:02d}.000Z",
                updated_at="t",
                expires_at=2_000_000_000,
            )
        )
    # When the failed ones are listed
    with count_calls() as calls:
        page = json.loads(api.get(f"/v2/webhooks/{hook['id']}/deliveries?status=failed&limit=5").body)
    # Then one Query of that status's partition finds it
    assert [d["id"] for d in page["items"]] == [f"dlv_{3:026d}"]
    assert calls["Query"] == 1


def test_a_rare_event_type_is_listed_without_reading_the_others(api: Api, target: Receiver) -> None:
    from chalicelib.domain.webhooks import Delivery
    from chalicelib.store.webhooks import DeliveryStore

    # Given 100 deliveries of one event type and two of a rare one (one failed, one delivered)
    hook = endpoint(api, target.url)
    store = DeliveryStore()
    for i in range(102):
        rare = i in (3, 50)
        store.create_once(
            Delivery(
                id=f"dlv_{i:026d}",
                webhook_id=hook["id"],
                event_id=f"evt_{i}",
                event_type="custom.rare" if rare else "custom.x",
                payload="{}",
                status="failed" if i == 3 else "delivered",
                max_attempts=3,
                created_at=f"2026-11-30T08:{i // 60:02d}:{i % 60:02d}.000Z",
                updated_at="t",
                expires_at=2_000_000_000,
            )
        )
    path = f"/v2/webhooks/{hook['id']}/deliveries"
    # When the rare type is listed with a status, Then one Query of that partition finds it
    with count_calls() as calls:
        page = json.loads(api.get(f"{path}?event_type=custom.rare&status=failed&limit=5").body)
    assert [d["id"] for d in page["items"]] == [f"dlv_{3:026d}"] and calls["Query"] == 1
    # and without a status, one Query per status (4), newest first
    with count_calls() as calls:
        page = json.loads(api.get(f"{path}?event_type=custom.rare&limit=5").body)
    assert [d["id"] for d in page["items"]] == [f"dlv_{50:026d}", f"dlv_{3:026d}"]
    assert calls["Query"] == 4
