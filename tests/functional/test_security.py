"""Attacks written out (docs/security.md): each test is one thing a hostile caller tried.

Nothing here sends a packet beyond loopback: names resolve through a stand-in table, every
connection attempt is recorded (and refused before it is made unless it is to loopback), and the
refusals are proven by "no connection was attempted"."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import aws as factory
from chalicelib import deps
from tests.conftest import Api, Clock, body
from tests.functional.helpers import (
    FAST,
    run_attempts,
    run_executions,
)
from tests.functional.receivers import Receiver, receiver


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every TCP connection urllib3 opens, recorded; one to a non-loopback address fails the
    test before it is made. Also: no host name reaches the system resolver."""
    from urllib3.util import connection

    seen: list[tuple[str, int]] = []
    names: list[str] = []
    real_connect, real_getaddrinfo = connection.create_connection, socket.getaddrinfo

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        host, port = address[0], int(address[1])
        assert ipaddress.ip_address(host).is_loopback, f"a connection to {host} was attempted"
        seen.append((host, port))
        return real_connect(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(str(host))
        except ValueError:
            if host != "localhost":
                names.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(connection, "create_connection", recording)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield seen
    assert names == [], f"host names reached the system resolver: {names}"


@pytest.fixture
def dns(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A stand-in resolver for the outbound guard: name -> addresses, changed by the test."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            return list(table.get(host, []))

    monkeypatch.setattr(deps.outbound_guard(), "resolver", resolve)
    return table


def retry_request(target: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "service": "payments",
        "target": target,
        "error": {"type": "HTTP503", "message": "down"},
        "retry_policy": FAST,
        **extra,
    }


def schedule_request(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "nightly",
        "expression": "cron(0 9 * * *)",
        "target": target,
        "retry_policy": {"max_attempts": 1},
    }


def problem(response: Any, field: str) -> str:
    assert response.status_code == 400, response.body
    error = body(response)["error"]
    assert error["code"] == "validation_error"
    # the schema names the union member in its path (target.http.url); the guard says target.url
    found = [
        d["problem"]
        for d in error["details"]
        if d["field"] in (field, field.replace("target.", "target.http.", 1))
    ]
    assert found, error
    return found[0]


# --- 1. SSRF on every outbound call ----------------------------------------------------------------

BLOCKED = [
    ("http://10.0.0.1/charge", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[2002:a9fe:a9fe::]/", "link-local"),  # 6to4 of the metadata address
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "private"),  # Teredo of 10.0.0.1
    ("http://0.0.0.0:8000/", "reserved"),
    ("http://[::]/", "reserved"),
    ("http://224.0.0.1/", "multicast"),
    ("file:///etc/passwd", "pattern"),
    ("gopher://10.0.0.1:70/", "pattern"),
]


@pytest.mark.parametrize(("url", "why"), BLOCKED)
def test_retry_and_schedule_targets_are_refused_at_creation(
    api: Api, clock: Clock, dns: dict[str, list[str]], connects: list[Any], url: str, why: str
) -> None:
    monkey = {"type": "http", "method": "POST", "url": url}
    assert why in problem(api.post("/v2/errors/retry", retry_request(monkey)), "target.url")
    assert why in problem(api.post("/v2/schedules", schedule_request(monkey)), "target.url")
    assert body(api.get("/v2/errors/retry"))["items"] == []
    assert body(api.get("/v2/schedules"))["items"] == []
    assert connects == []


def test_a_name_that_resolves_to_a_private_address_is_refused(
    api: Api, clock: Clock, dns: dict[str, list[str]], connects: list[Any]
) -> None:
    dns["internal.corp.test"] = ["10.20.30.40"]
    monkey = {"type": "http", "url": "https://internal.corp.test/admin"}
    assert "10.20.30.40" in problem(api.post("/v2/errors/retry", retry_request(monkey)), "target.url")
    batch = body(api.post("/v2/batch/errors/retry", {"items": [retry_request(monkey)]}))
    assert batch["failed"] == 1 and connects == []


def test_dns_rebinding_after_creation_is_refused_at_connect_time(
    api: Api, app_module: Any, clock: Clock, dns: dict[str, list[str]], target: Receiver, connects: list[Any]
) -> None:
    # Given a job whose host resolved to an allowed address when it was created
    port = int(target.url.rsplit(":", 1)[1].split("/")[0])
    dns["rebind.test"] = ["127.0.0.1"]
    job = body(
        api.post("/v2/errors/retry", retry_request({"type": "http", "url": f"http://rebind.test:{port}/x"}))
    )
    # When the name re-binds to the metadata address before the attempt
    dns["rebind.test"] = ["169.254.169.254"]
    run_attempts(app_module)
    # Then nothing was sent anywhere, and the job gave up at once: no retry can fix it
    assert connects == [] and target.requests == []
    done = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert done["status"] == "dead_lettered" and done["attempt_count"] == 1
    assert done["attempts"][0]["error_type"] == "ForbiddenTarget"
    assert done["attempts"][0]["response_excerpt"] is None


def test_the_connection_goes_to_the_checked_address_with_the_original_host(
    api: Api,
    app_module: Any,
    clock: Clock,
    dns: dict[str, list[str]],
    target: Receiver,
    connects: list[tuple[str, int]],
) -> None:
    port = int(target.url.rsplit(":", 1)[1].split("/")[0])
    dns["hooks.test"] = ["127.0.0.1"]
    job = body(
        api.post("/v2/errors/retry", retry_request({"type": "http", "url": f"http://hooks.test:{port}/pay"}))
    )
    run_attempts(app_module)
    assert body(api.get(f"/v2/errors/retry/{job['id']}"))["status"] == "succeeded"
    [request] = target.requests
    assert request["headers"]["Host"] == f"hooks.test:{port}"
    assert connects == [("127.0.0.1", port)]  # and `connects` saw no lookup of hooks.test


def test_redirects_are_never_followed(
    api: Api, app_module: Any, clock: Clock, connects: list[tuple[str, int]]
) -> None:
    with receiver([(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]) as bouncer:
        job = body(
            api.post(
                "/v2/errors/retry",
                retry_request({"type": "http", "url": bouncer.url}, retry_policy={**FAST, "max_attempts": 1}),
            )
        )
        run_attempts(app_module)
        assert len(bouncer.requests) == 1
    done = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert done["attempts"][0]["error_type"] == "HTTP302"
    assert {host for host, _ in connects} == {"127.0.0.1"}


def test_a_schedule_run_is_checked_at_connect_time_too(
    api: Api, app_module: Any, clock: Clock, dns: dict[str, list[str]], target: Receiver, connects: list[Any]
) -> None:
    port = int(target.url.rsplit(":", 1)[1].split("/")[0])
    dns["cron.test"] = ["127.0.0.1"]
    created = body(
        api.post(
            "/v2/schedules",
            {
                **schedule_request({"type": "http", "url": f"http://cron.test:{port}/run"}),
                "retry_policy": {"max_attempts": 3},
            },
        )
    )
    dns["cron.test"] = ["192.168.0.10"]
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    [run] = body(api.get(f"/v2/schedules/{created['id']}/history"))["items"]
    assert run["status"] == "failed" and run["error"]["type"] == "ForbiddenTarget"
    assert run["retry_job_id"] is None  # no retry job: retrying cannot make it allowed
    assert connects == [] and target.requests == []


# --- 4. SQS targets never reach Conductor's own queues ----------------------------------------------


@pytest.mark.parametrize("queue", ["events", "events-dlq", "retries", "webhook-deliveries"])
def test_sqs_targets_may_not_name_conductors_own_queues(api: Api, clock: Clock, queue: str) -> None:
    url = f"https://sqs.us-east-1.amazonaws.com/123456789012/conductor-test-{queue}"
    forged = {
        "type": "sqs",
        "queue_url": url,
        "message": {"id": "evt_X", "type": "webhook.disabled", "data": {}},
    }
    assert "Conductor's own" in problem(
        api.post("/v2/errors/retry", retry_request(forged)), "target.queue_url"
    )
    assert "Conductor's own" in problem(
        api.post("/v2/schedules", schedule_request(forged)), "target.queue_url"
    )


def test_a_foreign_queue_is_a_fine_target_locally(api: Api, app_module: Any, clock: Clock) -> None:
    sqs = factory.client("sqs")
    url = sqs.create_queue(QueueName="customer-jobs")["QueueUrl"]
    job = body(
        api.post(
            "/v2/errors/retry", retry_request({"type": "sqs", "queue_url": url, "message": {"order": 7}})
        )
    )
    run_attempts(app_module)
    assert body(api.get(f"/v2/errors/retry/{job['id']}"))["status"] == "succeeded"
    [message] = sqs.receive_message(QueueUrl=url).get("Messages", [])
    assert json.loads(message["Body"]) == {"order": 7}


def test_a_stored_job_aimed_at_an_own_queue_is_refused_when_it_runs(
    api: Api, app_module: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job accepted before the rule existed (the check at creation is skipped here)
    events_url = factory.client("sqs").get_queue_url(QueueName="conductor-test-events")["QueueUrl"]
    monkeypatch.setattr(deps.target_runner(), "validate", lambda target, field="target": None)
    job = body(
        api.post(
            "/v2/errors/retry",
            retry_request({"type": "sqs", "queue_url": events_url, "message": {"type": "webhook.disabled"}}),
        )
    )
    run_attempts(app_module)
    done = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert done["status"] == "dead_lettered"
    assert done["attempts"][0]["error_type"] == "ForbiddenTarget"
    sqs = factory.client("sqs")
    forged = [
        m
        for m in sqs.receive_message(QueueUrl=events_url, MaxNumberOfMessages=10).get("Messages", [])
        if "webhook.disabled" in m["Body"]
    ]
    assert forged == []


def test_a_deployed_stage_allows_only_its_listed_queues() -> None:
    from chalicelib.services.targets import TargetQueues

    queues = TargetQueues(
        own=frozenset({"conductor-prod-events"}),
        deployed=True,
        allowed=("arn:aws:sqs:eu-west-1:111122223333:orders",),
    )
    assert queues.refusal("https://sqs.eu-west-1.amazonaws.com/111122223333/orders") is None
    assert "allow-list" in (queues.refusal("https://sqs.eu-west-1.amazonaws.com/111122223333/other") or "")
    assert "allow-list" in (queues.refusal("https://sqs.us-east-1.amazonaws.com/111122223333/orders") or "")
    assert "own" in (
        queues.refusal("https://sqs.eu-west-1.amazonaws.com/111122223333/conductor-prod-events") or ""
    )
    assert "SQS queue URL" in (queues.refusal("https://example.com/not/a/queue/url") or "")


# --- 2. the cursor secret ---------------------------------------------------------------------------


def test_a_cursor_signed_with_the_old_public_key_is_refused(api: Api, clock: Clock, target: Receiver) -> None:
    from chalicelib.domain.cursor import encode_cursor

    for name in ("a", "b"):
        api.post("/v2/schedules", {**schedule_request({"type": "http", "url": target.url}), "name": name})
    # the key anyone could derive from the code before: f"conductor-{stage}-cursor"
    forged = encode_cursor({"k": "9999-12-31T00:00:00Z#sch_Z"}, "conductor-test-cursor")
    response = api.get(f"/v2/schedules?limit=1&cursor={forged}")
    assert response.status_code == 400 and body(response)["error"]["details"][0]["field"] == "cursor"


def test_the_cursor_key_is_random_per_process_locally_and_read_from_secrets_manager_deployed(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.config import reset_settings

    local = deps.cursor_secret()
    deps.reset()
    assert deps.cursor_secret() != local and len(local) >= 32  # a new process, a new key
    assert "conductor" not in local
    # deployed without the secret's name: refuse to sign anything
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "conductor-dev-api")
    monkeypatch.delenv("CONDUCTOR_CURSOR_SECRET", raising=False)
    reset_settings()
    deps.reset()
    with pytest.raises(RuntimeError, match="CONDUCTOR_CURSOR_SECRET_NAME"):
        deps.cursor_secret()
    # deployed with the secret the stack generated: read once per container
    value = "x" * 20 + "generated-by-cloudformation-0123456789"
    factory.client("secretsmanager").create_secret(Name="conductor-test-cursor-secret", SecretString=value)
    monkeypatch.setenv("CONDUCTOR_CURSOR_SECRET_NAME", "conductor-test-cursor-secret")
    reset_settings()
    deps.reset()
    from tests.functional.aws_calls import count_calls

    with count_calls() as calls:
        assert deps.cursor_secret() == value
        assert deps.cursor_secret() == value
    assert dict(calls) == {"GetSecretValue": 1}
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    monkeypatch.delenv("CONDUCTOR_CURSOR_SECRET_NAME")
    reset_settings()


# --- 7. cursors are bound to their list and filters -------------------------------------------------


def test_cursors_only_work_on_the_list_and_filters_they_came_from(
    api: Api, clock: Clock, target: Receiver
) -> None:
    for name in ("a", "b", "c"):
        api.post(
            "/v2/schedules",
            {**schedule_request({"type": "http", "url": target.url}), "name": name, "enabled": False},
        )
        api.post("/v2/webhooks", {"url": target.url, "event_types": ["custom.*"]})
    paused = body(api.get("/v2/schedules?limit=1&enabled=false"))["next_cursor"]
    assert paused
    assert api.get(f"/v2/schedules?limit=1&enabled=false&cursor={paused}").status_code == 200
    foreign = [
        f"/v2/schedules?limit=1&enabled=true&cursor={paused}",  # other filters
        f"/v2/schedules?limit=1&cursor={paused}",
        f"/v2/webhooks?limit=1&cursor={paused}",  # another list
        f"/v2/errors/retry?limit=1&cursor={paused}",
        f"/v2/dlq?limit=1&cursor={paused}",
        f"/v2/events?limit=1&cursor={paused}",
    ]
    for url in foreign:
        response = api.get(url)
        assert response.status_code == 400, url
        assert body(response)["error"]["details"][0]["field"] == "cursor"
    hooks = body(api.get("/v2/webhooks"))["items"]
    first, second = hooks[0]["id"], hooks[1]["id"]
    for _ in range(2):
        api.post(f"/v2/webhooks/{first}/test")
    own = body(api.get(f"/v2/webhooks/{first}/deliveries?limit=1"))["next_cursor"]
    assert own and api.get(f"/v2/webhooks/{first}/deliveries?limit=1&cursor={own}").status_code == 200
    assert api.get(f"/v2/webhooks/{second}/deliveries?limit=1&cursor={own}").status_code == 400


def test_a_well_signed_cursor_with_a_wrong_key_type_is_a_400(api: Api, clock: Clock) -> None:
    from chalicelib.api.http import bound_cursor
    from chalicelib.api.schemas import ListSchedulesQuery

    query = ListSchedulesQuery.model_validate({})
    for position in ({"k": 12345}, {"k": ["a"]}, {"k": {"S": "x"}}, {"k": ""}):
        cursor = bound_cursor(position, query, "schedules")
        response = api.get(f"/v2/schedules?cursor={cursor}")
        assert response.status_code == 400, position


def test_the_iam_policy_lets_targets_reach_only_the_listed_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import build

    assert "TargetQueues" not in {s["Sid"] for s in build.policy("prod")["Statement"]}
    listed = ("arn:aws:sqs:eu-west-1:111122223333:orders",)
    monkeypatch.setattr(build, "target_queues", lambda stage: listed)
    statements = {s["Sid"]: s for s in build.policy("prod")["Statement"]}
    assert statements["TargetQueues"]["Action"] == ["sqs:SendMessage"]
    assert statements["TargetQueues"]["Resource"] == list(listed)
    assert statements["CursorSecret"]["Resource"].startswith(
        "arn:aws:secretsmanager:*:*:secret:conductor-prod-cursor-secret-"
    )


# --- 3. WebSocket tickets instead of keys in URLs ---------------------------------------------------


def connect(app_module: Any, connection_id: str, **query: str) -> int:
    from devserver.lambdas import context_for, websocket_event
    from tests.functional.helpers import DOMAIN

    event = websocket_event("$connect", connection_id, DOMAIN, "api", query=query or None)
    return int(app_module.ws_connect(event, context_for("$connect"))["statusCode"])


def test_a_ticket_opens_one_socket_once_within_a_minute(
    api: Api, app_module: Any, clock: Clock, keys: dict[str, str]
) -> None:
    from datetime import timedelta

    assert api.post("/v2/realtime/tickets", key=None).status_code == 401
    issued = api.post("/v2/realtime/tickets", key=keys["viewer"])
    assert issued.status_code == 201
    ticket = body(issued)
    assert ticket["ticket"].startswith("wst_") and keys["viewer"] not in json.dumps(ticket)
    assert connect(app_module, "T1=", ticket=ticket["ticket"]) == 200
    assert deps.realtime()._store.get("T1=", 0).key_id.startswith("key_")
    assert connect(app_module, "T2=", ticket=ticket["ticket"]) == 401  # single use
    late = body(api.post("/v2/realtime/tickets", key=keys["viewer"]))["ticket"]
    clock.now += timedelta(seconds=61)
    assert connect(app_module, "T3=", ticket=late) == 401  # expired
    assert connect(app_module, "T4=", ticket="wst_forged") == 401
    assert connect(app_module, "T5=", token=keys["viewer"]) == 200  # the older, less safe way


def test_a_ticket_of_a_key_revoked_since_is_refused(
    api: Api, app_module: Any, clock: Clock, keys: dict[str, str]
) -> None:
    created = body(api.post("/v2/api-keys", {"name": "tmp", "role": "viewer"}, key=keys["admin"]))
    ticket = body(api.post("/v2/realtime/tickets", key=created["key"]))["ticket"]
    api.delete(f"/v2/api-keys/{created['id']}", key=keys["admin"])
    assert connect(app_module, "R1=", ticket=ticket) == 401


def test_the_ticket_url_points_at_the_configured_websocket(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from chalicelib.api import realtime
    from chalicelib.config import get_settings

    configured = dataclasses.replace(get_settings(), websocket_url="wss://ws.example.test/api")
    monkeypatch.setattr(realtime, "get_settings", lambda: configured)
    issued = body(api.post("/v2/realtime/tickets"))
    assert issued["url"] == f"wss://ws.example.test/api?ticket={issued['ticket']}"


# --- 5. revoking a key closes its sockets -----------------------------------------------------------


def test_revoking_a_key_closes_its_sockets_and_stops_pushes(
    api: Api, app_module: Any, clock: Clock, keys: dict[str, str]
) -> None:
    from devserver.lambdas import context_for, websocket_event
    from tests.functional.helpers import DOMAIN, publish_and_fan_out, sent_to

    created = body(api.post("/v2/api-keys", {"name": "laptop", "role": "viewer"}, key=keys["admin"]))
    for connection_id in ("K1=", "K2="):
        assert connect(app_module, connection_id, token=created["key"]) == 200
        app_module.ws_message(
            websocket_event(
                "$default",
                connection_id,
                DOMAIN,
                "api",
                body=json.dumps({"action": "subscribe", "events": ["custom.*"]}),
            ),
            context_for("x"),
        )
    assert connect(app_module, "OTHER=", token=keys["viewer"]) == 200
    # When the key is revoked
    assert api.delete(f"/v2/api-keys/{created['id']}", key=keys["admin"]).status_code == 204
    # Then its connections are gone, the other key's is not, and no event reaches them
    store = deps.realtime()._store
    assert store.get("K1=", 0) is None and store.get("K2=", 0) is None
    assert store.get("OTHER=", 0) is not None
    publish_and_fan_out(app_module, "custom.after", {"n": 1})
    assert sent_to("K1=") == []  # moto forgot the closed socket; nothing was posted since
    revoked = [e for e in deps.event_bus().list(50, event_type="api_key.revoked").events]
    assert [e.data["key_id"] for e in revoked] == [created["id"]]


def test_replaying_a_conductor_queues_dead_letter_redrives_it_but_the_api_cannot(
    api: Api, app_module: Any, clock: Clock
) -> None:
    from devserver.lambdas import context_for, sqs_event
    from tests.functional.helpers import ARN, receive

    sqs = factory.client("sqs")
    dlq = sqs.get_queue_url(QueueName="conductor-test-retries-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"job_id": "rty_X", "attempt": 1}')
    [messages] = receive("conductor-test-retries-dlq")
    app_module.drain_retries_dlq(
        sqs_event(messages, ARN + "conductor-test-retries-dlq", "us-east-1"), context_for("x")
    )
    [entry] = body(api.get("/v2/dlq?source=sqs:conductor-test-retries"))["items"]
    replayed = api.post(f"/v2/dlq/{entry['id']}/replay")
    assert replayed.status_code == 201, replayed.body  # SQS redrive: back to its source queue
    own = sqs.get_queue_url(QueueName="conductor-test-retries")["QueueUrl"]
    forged = retry_request({"type": "sqs", "queue_url": own, "message": {}, "redrive": True})
    assert api.post("/v2/errors/retry", forged).status_code == 400  # not a field callers have


# --- 8. custom headers are write-only -----------------------------------------------------------


def test_custom_headers_are_masked_for_every_reader_and_kept_on_update(
    api: Api, app_module: Any, clock: Clock, target: Receiver, keys: dict[str, str]
) -> None:
    secret = "Bearer sk_live_0123456789abcdef"
    headers = {"Authorization": secret, "X-Env": "prod"}
    hook = body(
        api.post("/v2/webhooks", {"url": target.url, "event_types": ["custom.*"], "headers": headers})
    )
    job = body(
        api.post(
            "/v2/errors/retry",
            retry_request(
                {"type": "http", "url": target.url, "headers": headers},
                retry_policy={**FAST, "max_attempts": 1},
            ),
        )
    )
    sched = body(
        api.post("/v2/schedules", schedule_request({"type": "http", "url": target.url, "headers": headers}))
    )
    target.set_script([(500, {})])
    run_attempts(app_module)  # fails once: a dead letter carrying the target
    viewer = keys["viewer"]
    reads = [
        api.get(f"/v2/webhooks/{hook['id']}", key=viewer),
        api.get("/v2/webhooks", key=viewer),
        api.get(f"/v2/errors/retry/{job['id']}", key=viewer),
        api.get("/v2/errors/retry", key=viewer),
        api.get(f"/v2/schedules/{sched['id']}", key=viewer),
        api.get("/v2/schedules", key=viewer),
        api.get("/v2/dlq", key=viewer),
    ]
    for response in reads:
        assert response.status_code == 200
        assert "sk_live" not in response.body.decode(), response.body
    assert body(reads[0])["headers"] == {"Authorization": "********", "X-Env": "********"}
    assert "sk_live" not in json.dumps([hook, job, sched])  # nor in the creating answers
    # an update that sends the masked values back keeps the stored ones
    shown = body(reads[4])
    update = {k: shown[k] for k in ("name", "expression", "target", "retry_policy")}
    assert api.request("PUT", f"/v2/schedules/{sched['id']}", body=update).status_code == 200
    target.set_script([(200, {})])
    api.post(f"/v2/schedules/{sched['id']}/execute")
    run_executions(app_module)
    assert target.requests[-1]["headers"]["Authorization"] == secret
    # and a masked value with nothing stored under its name is refused, not sent as asterisks
    fresh = retry_request({"type": "http", "url": target.url, "headers": {"X-New": "********"}})
    assert "masked" in problem(api.post("/v2/errors/retry", fresh), "target.headers.X-New")


def test_replaying_a_dead_letter_sends_the_real_headers(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    target.set_script([(500, {})])
    api.post(
        "/v2/errors/retry",
        retry_request(
            {"type": "http", "url": target.url, "headers": {"Authorization": "Bearer real"}},
            retry_policy={**FAST, "max_attempts": 1},
        ),
    )
    run_attempts(app_module)
    [entry] = body(api.get("/v2/dlq"))["items"]
    assert entry["payload"]["target"]["headers"] == {"Authorization": "********"}
    target.set_script([(200, {})])
    assert api.post(f"/v2/dlq/{entry['id']}/replay").status_code == 201
    run_attempts(app_module)
    assert target.requests[-1]["headers"]["Authorization"] == "Bearer real"


# --- 9. header values with CR/LF --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "line\nbreak", "nul\x00", "bell\x07"])
def test_header_values_with_control_characters_are_refused(
    api: Api, clock: Clock, target: Receiver, value: str
) -> None:
    hook = api.post("/v2/webhooks", {"url": target.url, "event_types": ["*"], "headers": {"X-Tenant": value}})
    assert hook.status_code == 400 and "headers.X-Tenant" in hook.body.decode()
    job = api.post(
        "/v2/errors/retry", retry_request({"type": "http", "url": target.url, "headers": {"X-Tenant": value}})
    )
    assert job.status_code == 400 and "X-Tenant" in job.body.decode()
    bad_name = api.post(
        "/v2/errors/retry", retry_request({"type": "http", "url": target.url, "headers": {"X Bad\r\n": "v"}})
    )
    assert bad_name.status_code == 400
