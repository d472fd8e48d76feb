"""Answers that must be true (docs: the issue's numbered items, each named in its test).

Each test is a case that answered wrongly before: a 500 for bad input, a false rate, a number
JSON cannot carry, a definition accepted that could never run."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import deps
from chalicelib.domain.timeutil import to_iso
from tests.conftest import T0, Api, Clock, body
from tests.functional.helpers import (
    run_dispatch,
    run_executions,
    tick,
)
from tests.functional.receivers import Receiver


@pytest.fixture
def clock(fixed_clock: Clock) -> Clock:
    return fixed_clock


def bad(response: Any, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.body)
    error = body(response)["error"]
    assert error["code"] == "validation_error"
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    return error


def schedule_body(target_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "n",
        "expression": "cron(0 9 * * *)",
        "target": {"type": "http", "url": target_url},
        "retry_policy": {"max_attempts": 1},
        **extra,
    }


# --- 1. bad input is a 400, not a 500 ---------------------------------------------------------------


@pytest.mark.parametrize("expression", ["cron(0 0 31 2 *)", "cron(0 0 30 2 *)", "cron(0 0 30 2 ? *)"])
def test_a_cron_that_never_fires_is_explained(
    api: Api, clock: Clock, target: Receiver, expression: str
) -> None:
    preview = bad(api.post("/v2/schedules/preview", {"expression": expression}), "expression")
    assert "never matches" in json.dumps(preview)
    bad(api.post("/v2/schedules", schedule_body(target.url, expression=expression)), "expression")


@pytest.mark.parametrize("path", ["/v2/events", "/v2/schedules", "/v2/batch/errors/retry"])
def test_json_nested_a_thousand_levels_deep_is_a_400(api: Api, clock: Clock, path: str) -> None:
    deep = ('{"data": ' * 1000) + "1" + ("}" * 1000)
    error = bad(api.post(path, deep.encode()), "body")
    assert "nested" in error["message"]
    deep_list = "[" * 40 + "]" * 40
    bad(api.post(path, f'{{"items": {deep_list}, "data": {deep_list}}}'.encode()), "body")


def test_a_port_out_of_range_is_a_400(api: Api, clock: Clock, target: Receiver) -> None:
    bad(api.post("/v2/webhooks", {"url": "https://example.test:99999/hook", "event_types": ["*"]}), "url")
    hook = body(api.post("/v2/webhooks", {"url": target.url, "event_types": ["*"]}))
    bad(
        api.request(
            "PUT",
            f"/v2/webhooks/{hook['id']}",
            body={"url": "https://example.test:99999/hook", "event_types": ["*"]},
        ),
        "url",
    )
    bad(
        api.post(
            "/v2/errors/retry",
            {
                "service": "s",
                "error": {"type": "E"},
                "target": {"type": "http", "url": "http://127.0.0.1:70000/x"},
            },
        ),
        "target.url",
    )


# --- 3. rates: a schedule failing every run is 0 % successful -----------------------------------------


def test_a_schedule_that_fails_every_run_has_a_success_rate_of_zero(
    api: Api, app_module: Any, clock: Clock
) -> None:
    from tests.functional.receivers import receiver

    with receiver([(500, {})]) as failing:
        created = body(api.post("/v2/schedules", schedule_body(failing.url)))
        for _ in range(2):
            api.post(f"/v2/schedules/{created['id']}/execute")
            run_executions(app_module)
    [row] = body(api.get("/v2/metrics/schedules"))["items"]
    assert (row["runs"], row["failures"], row["success_rate"]) == (2, 2, 0.0)
    assert body(api.get("/v2/metrics/summary"))["schedules"]["success_rate"] == 0.0


# --- 4. strict JSON: latency beyond the last bucket ---------------------------------------------------


def test_latency_beyond_the_last_bucket_is_reported_without_infinity(api: Api, clock: Clock) -> None:
    deps.metrics().record(
        "webhooks",
        {"delivered|whk_1": 1, "latency_ms|whk_1": 45_000, "latency_count|whk_1": 1},
        ("latency", 45_000),
    )
    for path in (
        "/v2/metrics/summary",
        "/v2/metrics/webhooks",
        "/v2/metrics/history?metric=webhooks&window=hour",
    ):
        response = api.get(path)
        assert response.status_code == 200
        text = response.body.decode()
        assert "Infinity" not in text and "NaN" not in text
        json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the answer"))
    latency = body(api.get("/v2/metrics/summary"))["webhooks"]["latency"]
    assert latency["p95_ms"] is None and latency["p95_above_ms"] == 30000
    assert latency["percentiles"] == "bucket_upper_bound"


# --- 8. at() in the past ----------------------------------------------------------------------------


def test_at_in_the_past_is_refused_unless_catch_up_reaches_it(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    past = (T0 - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    refused = bad(
        api.post("/v2/schedules", schedule_body(target.url, expression=f"at({past})", catchup="skip")),
        "expression",
    )
    assert "in the past" in json.dumps(refused)
    long_ago = (T0 - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    bad(api.post("/v2/schedules", schedule_body(target.url, expression=f"at({long_ago})")), "expression")
    # within the catch-up window with a policy that runs missed runs: it runs once, now — as
    # announced, handed on when it is made, not at the next tick
    late = body(
        api.post("/v2/schedules", schedule_body(target.url, expression=f"at({past})", catchup="latest"))
    )
    assert late["next_runs"] == [to_iso(clock.now)]
    run_dispatch(app_module)
    run_executions(app_module)
    [run] = body(api.get(f"/v2/schedules/{late['id']}/history"))["items"]
    assert run["status"] == "succeeded" and run["trigger"] == "catchup"
    assert run["started_at"] == to_iso(clock.now)
    tick(app_module, clock)
    run_executions(app_module)
    assert len(body(api.get(f"/v2/schedules/{late['id']}/history"))["items"]) == 1
    # and an end_at already passed leaves nothing to run
    bad(
        api.post(
            "/v2/schedules",
            schedule_body(target.url, expression="rate(1 hour)", end_at="2026-11-01T00:00:00Z"),
        ),
        "end_at",
    )


# --- 9. EventBridge's six-field cron -------------------------------------------------------------------


def test_eventbridge_cron_is_accepted(api: Api, clock: Clock, target: Receiver) -> None:
    preview = body(
        api.post(
            "/v2/schedules/preview", {"expression": "cron(0 9 ? * MON-FRI *)", "timezone": "Europe/Berlin"}
        )
    )
    # Monday 09:59 in Berlin: the next weekday 09:00 there is Tuesday's (08:00 UTC)
    assert preview["next_runs"][:2] == ["2026-12-01T08:00:00.000Z", "2026-12-02T08:00:00.000Z"]
    created = api.post("/v2/schedules", schedule_body(target.url, expression="cron(0 9 ? * 2-6 *)"))
    assert created.status_code == 201
    assert body(created)["next_runs"][0] == "2026-11-30T09:00:00.000Z"  # 2: Monday, EventBridge


# --- 18. NaN and Infinity -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_refused_on_input(api: Api, clock: Clock, number: str) -> None:
    raw = f'{{"type": "custom.x", "data": {{"v": {number}}}}}'.encode()
    bad(api.post("/v2/events", raw), "body")
    assert body(api.get("/v2/events"))["items"] == []


def test_a_websocket_message_with_nan_is_answered_not_crashed(clock: Clock, keys: dict[str, str]) -> None:
    import app
    from devserver.lambdas import context_for, websocket_event
    from tests.functional.helpers import DOMAIN, sent_to

    app.ws_connect(
        websocket_event("$connect", "N=", DOMAIN, "api", query={"token": keys["viewer"]}), context_for("c")
    )
    for raw in ('{"action": "subscribe", "events": NaN}', "[" * 5000 + "]" * 5000):
        app.ws_message(websocket_event("$default", "N=", DOMAIN, "api", body=raw), context_for("m"))
    replies = sent_to("N=")
    assert [r["error"]["code"] for r in replies] == ["bad_message", "bad_message"]


# --- 2. no status filter means every status -----------------------------------------------------------


def test_listing_retry_jobs_without_a_status_lists_every_status(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from tests.functional.helpers import FAST, new_job, run_attempts

    target.set_script([(500, {})])
    dead = new_job(api, target.url, retry_policy={**FAST, "max_attempts": 1})
    run_attempts(app_module)
    clock.now += timedelta(seconds=1)
    waiting = new_job(api, target.url, retry_policy={**FAST, "initial_delay_seconds": 600})
    clock.now += timedelta(seconds=1)
    resolved = new_job(api, target.url, retry_policy={**FAST, "initial_delay_seconds": 600})
    api.post("/v2/errors/resolve", {"id": resolved["id"]})
    listed = body(api.get("/v2/errors/retry"))["items"]
    assert [j["id"] for j in listed] == [resolved["id"], waiting["id"], dead["id"]]
    assert [j["status"] for j in listed] == ["resolved", "scheduled", "dead_lettered"]
    first = body(api.get("/v2/errors/retry?limit=2"))
    rest = body(api.get(f"/v2/errors/retry?limit=2&cursor={first['next_cursor']}"))
    assert [j["id"] for j in first["items"] + rest["items"]] == [j["id"] for j in listed]
    assert rest["next_cursor"] is None


# --- 5. every advertised event is published -----------------------------------------------------------


def test_webhook_delivered_is_published(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    from tests.functional.helpers import endpoint, pump

    hook = endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.paid"})
    pump(app_module)
    [delivered] = deps.event_bus().list(50, event_type="webhook.delivered").events
    assert delivered.data["webhook_id"] == hook["id"] and delivered.data["status_code"] == 200
    assert len(target.requests) == 1  # not itself delivered to the endpoint subscribed to custom.*


def test_api_key_events_are_published(api: Api, clock: Clock, keys: dict[str, str]) -> None:
    created = body(api.post("/v2/api-keys", {"name": "ci", "role": "viewer"}, key=keys["admin"]))
    api.delete(f"/v2/api-keys/{created['id']}", key=keys["admin"])
    api.delete(f"/v2/api-keys/{created['id']}", key=keys["admin"])  # again: no second event
    types = [e.type for e in deps.event_bus().list(50).events]
    assert types.count("api_key.created") == 1 and types.count("api_key.revoked") == 1
    assert created["key"] not in json.dumps([e.to_dict() for e in deps.event_bus().list(50).events])


def test_the_tick_publishes_health_changes_once(api: Api, app_module: Any, clock: Clock) -> None:
    from chalicelib import aws as factory

    def changes() -> list[dict[str, Any]]:
        return [e.data for e in deps.event_bus().list(50, event_type="system.health_changed").events]

    tick(app_module, clock)
    assert changes() == []  # the first look, all well: nothing to say
    sqs = factory.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="conductor-test-executions")["QueueUrl"])
    tick(app_module, clock)
    tick(app_module, clock)  # still down: said once
    [down] = changes()
    assert down["went_down"] == ["queue:executions"] and down["status"] == "degraded"
    sqs.create_queue(QueueName="conductor-test-executions")
    clock.now += timedelta(minutes=1)
    tick(app_module, clock)
    back = changes()[0]
    assert back["came_back"] == ["queue:executions"] and back["status"] == "ok"


# --- 12. resolving a dead letter settles its retry job ------------------------------------------------


def test_resolving_a_dead_letter_resolves_its_retry_job(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from tests.functional.helpers import FAST, new_job, run_attempts

    target.set_script([(500, {})])
    jobs = [new_job(api, target.url, retry_policy={**FAST, "max_attempts": 1}) for _ in range(2)]
    run_attempts(app_module)
    entries = body(api.get("/v2/dlq"))["items"]
    by_job = {e["retry_job_id"]: e["id"] for e in entries}
    assert api.post(f"/v2/dlq/{by_job[jobs[0]['id']]}/resolve", {"note": "fixed"}).status_code == 200
    batch = body(api.post("/v2/batch/dlq/resolve", {"items": [{"id": by_job[jobs[1]["id"]]}]}))
    assert batch["succeeded"] == 1
    for job in jobs:
        assert body(api.get(f"/v2/errors/retry/{job['id']}"))["status"] == "resolved"


# --- 6. an idempotency key reused with another body ----------------------------------------------------


def test_an_idempotency_key_reused_for_another_body_is_a_409(
    api: Api, clock: Clock, target: Receiver
) -> None:
    request = {
        "service": "s",
        "target": {"type": "http", "url": target.url},
        "error": {"type": "E"},
        "idempotency_key": "order-7",
    }
    first = body(api.post("/v2/errors/retry", request))
    same = api.post("/v2/errors/retry", request)
    assert same.status_code == 200 and body(same)["id"] == first["id"]
    other = api.post("/v2/errors/retry", {**request, "service": "other"})
    assert other.status_code == 409
    assert body(other)["error"]["code"] == "idempotency_key_reused"
    # the IETF header works as the field does
    del request["idempotency_key"]
    by_header = api.post("/v2/errors/retry", request, headers={"Idempotency-Key": "order-7"})
    assert by_header.status_code == 200 and body(by_header)["id"] == first["id"]
    fresh = api.post("/v2/errors/retry", request, headers={"Idempotency-Key": "order-8"})
    assert fresh.status_code == 201
    clash = api.post(
        "/v2/errors/retry", {**request, "idempotency_key": "a"}, headers={"Idempotency-Key": "b"}
    )
    bad(clash, "idempotency_key")


# --- 15. raw AWS errors are a 503 with Retry-After, never a 500 ----------------------------------------


def test_a_failing_queue_is_a_503_with_retry_after(
    api: Api, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from tests.functional.helpers import schedule

    created = schedule(api, target.url)

    def refuse(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    hook = body(api.post("/v2/webhooks", {"url": target.url, "event_types": ["custom.*"]}))
    monkeypatch.setattr(deps.scheduler().queue.sqs, "send_message", refuse)  # one client: all SQS
    monkeypatch.setattr(deps.deliveries().engine.queue.sqs, "send_message", refuse)
    for path in (f"/v2/schedules/{created['id']}/execute", f"/v2/webhooks/{hook['id']}/test"):
        response = api.post(path)
        assert response.status_code == 503, (path, response.body)
        assert body(response)["error"]["code"] == "service_unavailable"
        assert response.headers["Retry-After"] == "2"


# --- 7 and 21. batch items, each on its own, none twice ------------------------------------------------


def test_each_batch_item_is_validated_on_its_own_with_field_details(
    api: Api, clock: Clock, target: Receiver
) -> None:
    good = {"service": "s", "target": {"type": "http", "url": target.url}, "error": {"type": "E"}}
    answer = api.post(
        "/v2/batch/errors/retry",
        {"items": [good, 42, "text", {**good, "retry_policy": {"max_attempts": 0}}, None]},
    )
    assert answer.status_code == 200, answer.body
    results = body(answer)["results"]
    assert [r["status"] for r in results] == ["ok", "error", "error", "error", "error"]
    assert results[1]["error"]["details"] == [{"field": "items.1", "problem": "must be an object"}]
    assert results[3]["error"]["details"][0]["field"] == "retry_policy.max_attempts"
    assert body(answer)["succeeded"] == 1 and body(answer)["failed"] == 4


def test_a_batch_naming_one_schedule_three_times_runs_it_once(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from tests.functional.helpers import schedule

    created = schedule(api, target.url)
    answer = body(api.post("/v2/batch/schedules/execute", {"items": [{"id": created["id"]}] * 3}))
    assert [r["status"] for r in answer["results"]] == ["ok", "error", "error"]
    assert "repeats item 0" in answer["results"][1]["error"]["message"]
    run_executions(app_module)
    assert len(target.requests) == 1


# --- 17. errors that read well ---------------------------------------------------------------------


def test_a_refused_connection_reads_as_one(api: Api, app_module: Any, clock: Clock) -> None:
    from devserver.runtime import free_port
    from tests.functional.helpers import FAST, new_job, run_attempts

    port = free_port()  # nothing listens there
    job = new_job(api, f"http://127.0.0.1:{port}/pay", retry_policy={**FAST, "max_attempts": 1})
    run_attempts(app_module)
    attempt = body(api.get(f"/v2/errors/retry/{job['id']}"))["attempts"][0]
    assert attempt["error_message"] == f"Connection refused (127.0.0.1:{port})"
    bad_zone = body(
        api.post("/v2/schedules/preview", {"expression": "rate(1 hour)", "timezone": "Mars/Olympus"})
    )
    assert not bad_zone["error"]["details"][0]["problem"].startswith("Value error")


def test_one_http_failure_is_one_dead_letter_group_whatever_the_reason_text(
    api: Api, app_module: Any, clock: Clock
) -> None:
    from tests.functional.helpers import FAST, new_job, run_attempts
    from tests.functional.receivers import receiver

    with receiver([(500, {})]) as one, receiver([(500, {})]) as two:
        one.reason, two.reason = "Oops req 8f3a", "Database on fire"  # servers' own words
        for server in (one, two):
            new_job(api, server.url, retry_policy={**FAST, "max_attempts": 1})
        run_attempts(app_module)
    entries = body(api.get("/v2/dlq"))["items"]
    assert len(entries) == 2 and len({e["fingerprint"] for e in entries}) == 1
    assert entries[0]["error"]["message"] == "500 Internal Server Error"


# --- 14. closing a breaker releases what it held; times and windows are real ----------------------------


def test_force_close_releases_held_attempts_at_once(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.functional.helpers import new_job, run_attempts

    forced = body(api.post("/v2/errors/circuit-breaker/payments", {"action": "force_open"}))
    assert forced["state"] == "forced_open" and forced["updated_at"] is not None
    job = new_job(api, target.url)
    run_attempts(app_module, rounds=1)
    held = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert held["status"] == "scheduled" and target.requests == []
    # When an operator closes the breaker, the held attempt runs now, not at its trial time
    api.post("/v2/errors/circuit-breaker/payments", {"action": "force_close"})
    run_attempts(app_module, rounds=2)
    assert body(api.get(f"/v2/errors/retry/{job['id']}"))["status"] == "succeeded"
    assert len(target.requests) == 1
    shown = body(api.get("/v2/errors/circuit-breaker/payments"))
    assert shown["updated_at"] is not None and shown["state"] == "forced_closed"
    [opened] = deps.event_bus().list(50, event_type="circuit.opened").events
    assert set(opened.data["window"]) == {"size", "failures", "failure_rate"}


def test_fifty_parallel_force_opens_all_succeed(clock: Clock) -> None:
    from concurrent.futures import ThreadPoolExecutor

    service = deps.breakers()
    with ThreadPoolExecutor(max_workers=10) as pool:
        states = list(pool.map(lambda _: service.command("payments", "force_open")["state"], range(50)))
    assert states == ["forced_open"] * 50
    assert len(deps.event_bus().list(100, event_type="circuit.opened").events) == 1


# --- 21. validation says what it enforces ------------------------------------------------------------


def test_loose_input_is_refused(api: Api, clock: Clock, target: Receiver) -> None:
    bad(api.post("/v2/schedules/preview", {"expression": "rate(1 minute)\n"}), "expression")
    bad(api.post("/v2/schedules/preview", {"expression": " rate(1 minute)"}), "expression")
    bad(api.get("/v2/events?limit=1&limit=200"), "limit")
    bad(api.get("/v2/errors/stats?to=0.5"), "to")
    bad(api.get("/v2/metrics/summary?from=1700000000"), "from")
    bad(
        api.post(
            "/v2/errors/retry",
            {
                "service": "s",
                "error": {"type": "E"},
                "target": {"type": "http", "url": target.url},
                "retry_policy": {"strategy": "linear", "increment_seconds": False},
            },
        ),
        "retry_policy.increment_seconds",
    )
    bad(api.post("/v2/schedules", schedule_body(target.url, enabled="yes")), "enabled")
    bad(api.get("/v2/events?cursor=not%20a%20cursor"), "cursor")
    assert api.get("/v2/errors/stats?to=2026-11-30T08:00:00Z").status_code == 200


# --- 10. backfilled runs are labelled backfill and keep to start_at/end_at ------------------------------


def test_backfill_is_labelled_and_respects_the_schedules_window(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    created = body(
        api.post(
            "/v2/schedules",
            schedule_body(target.url, expression="rate(1 hour)", start_at="2026-11-30T06:00:00Z"),
        )
    )
    runs = body(
        api.post(
            f"/v2/schedules/{created['id']}/backfill",
            {"from": "2026-11-30T03:00:00Z", "to": "2026-11-30T08:30:00Z"},
        )
    )
    assert [r["scheduled_for"] for r in runs["executions"]] == [
        "2026-11-30T06:00:00.000Z",
        "2026-11-30T07:00:00.000Z",
        "2026-11-30T08:00:00.000Z",
    ]
    assert {r["trigger"] for r in runs["executions"]} == {"backfill"}


# --- 11. history outlives a deleted schedule ------------------------------------------------------------


def test_a_deleted_schedules_history_stays_readable(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    created = body(api.post("/v2/schedules", schedule_body(target.url)))
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    assert api.delete(f"/v2/schedules/{created['id']}").status_code == 204
    gone = api.get(f"/v2/schedules/{created['id']}")
    assert gone.status_code == 404 and "deleted at" in body(gone)["error"]["message"]
    assert "history" in body(gone)["error"]["details"][0]["problem"]
    history = api.get(f"/v2/schedules/{created['id']}/history")
    assert history.status_code == 200 and len(body(history)["items"]) == 1
    assert body(api.get("/v2/schedules"))["items"] == []  # out of the list
    assert api.delete(f"/v2/schedules/{created['id']}").status_code == 404
    assert api.post(f"/v2/schedules/{created['id']}/execute").status_code == 404
    clock.now += timedelta(days=1)
    tick(app_module, clock)  # out of the due index: never runs again
    run_executions(app_module)
    assert len(target.requests) == 1


# --- 13. max_attempts counts every attempt, the first included ------------------------------------------


def test_a_schedule_with_max_attempts_two_makes_two_requests_per_failed_run(
    api: Api, app_module: Any, clock: Clock
) -> None:
    from tests.functional.helpers import run_attempts
    from tests.functional.receivers import receiver

    with receiver([(500, {})]) as failing:
        created = body(
            api.post(
                "/v2/schedules",
                schedule_body(
                    failing.url,
                    retry_policy={
                        "max_attempts": 2,
                        "strategy": "fixed",
                        "initial_delay_seconds": 0,
                        "jitter": "none",
                    },
                ),
            )
        )
        api.post(f"/v2/schedules/{created['id']}/execute")
        run_executions(app_module)
        run_attempts(app_module)
        assert len(failing.requests) == 2
    [run] = body(api.get(f"/v2/schedules/{created['id']}/history"))["items"]
    assert run["status"] == "failed"


# --- 16. lists carry summaries; attempts are read per job, page by page ---------------------------------


def test_lists_leave_attempts_out_and_a_jobs_attempts_page(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from tests.functional.helpers import FAST, new_job, run_attempts

    target.set_script([(500, {}), (500, {}), (200, {})])
    job = new_job(api, target.url, retry_policy=FAST)
    run_attempts(app_module)
    [listed] = body(api.get("/v2/errors/retry"))["items"]
    assert "attempts" not in listed and listed["attempt_count"] == 3
    first = body(api.get(f"/v2/errors/retry/{job['id']}/attempts?limit=2"))
    assert [a["number"] for a in first["items"]] == [1, 2]
    rest = body(api.get(f"/v2/errors/retry/{job['id']}/attempts?limit=2&cursor={first['next_cursor']}"))
    assert [a["number"] for a in rest["items"]] == [3] and rest["next_cursor"] is None
    assert api.get("/v2/errors/retry/rty_01M8MZ6JP0RKRW05BVSKBEKFFW/attempts").status_code == 404
    other = new_job(api, target.url)
    assert (
        api.get(f"/v2/errors/retry/{other['id']}/attempts?cursor={first['next_cursor']}").status_code == 400
    )  # a cursor of another job's attempts


# --- 19. nothing silently dropped while an endpoint is disabled -----------------------------------------


def test_a_disabled_endpoint_loses_nothing_and_recover_tells_the_truth(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from tests.functional.helpers import endpoint, pump

    target.set_script([(410, {})])
    hook = endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.first"})
    pump(app_module)
    # the 410 disabled it, and the delivery that got it is dead-lettered
    [gone] = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries"))["items"]
    assert gone["status"] == "failed" and gone["dead_letter_id"]
    assert body(api.get(f"/v2/dlq/{gone['dead_letter_id']}"))["source"] == "webhook"
    # events published while it is disabled are kept, skipped, with the reason
    for kind in ("custom.second", "custom.third"):
        api.post("/v2/events", {"type": kind})
    pump(app_module)
    deliveries = body(api.get(f"/v2/webhooks/{hook['id']}/deliveries?status=skipped"))["items"]
    assert len(deliveries) == 2 and "410" in deliveries[0]["skipped_reason"]
    assert len(target.requests) == 1
    # recover on a disabled endpoint says so instead of claiming to redeliver
    since = {"since": (T0 - timedelta(hours=1)).isoformat()}
    refused = api.post(f"/v2/webhooks/{hook['id']}/recover", since)
    assert refused.status_code == 409 and "disabled" in body(refused)["error"]["message"]
    # once enabled again, recover sends the failed one and both skipped ones
    target.set_script([(200, {})])
    api.request(
        "PUT",
        f"/v2/webhooks/{hook['id']}",
        body={"url": target.url, "event_types": ["custom.*"], "enabled": True},
    )
    recovered = body(api.post(f"/v2/webhooks/{hook['id']}/recover", since))
    assert recovered["redelivered"] == 3
    pump(app_module)
    types = sorted(json.loads(r["body"])["type"] for r in target.requests)  # since set_script
    assert types == ["custom.first", "custom.second", "custom.third"]
