"""Answers that must be true (docs: the issue's numbered items, each named in its test).

Each test is a case that answered wrongly before: a 500 for bad input, a false rate, a number
JSON cannot carry, a definition accepted that could never run."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import deps
from tests.conftest import Api, Clock
from tests.functional.receivers import Receiver
from tests.functional.test_scheduler import run_executions, tick

T0 = datetime(2026, 11, 30, 8, 59, 30, tzinfo=UTC)


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


@pytest.fixture
def clock(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(deps, "clock", clock)
    return clock


def bad(response: Any, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.body)
    error = body(response)["error"]
    assert error["code"] == "validation_error"
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    return error


def schedule_body(target_url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "n", "expression": "cron(0 9 * * *)",
            "target": {"type": "http", "url": target_url}, "retry_policy": {"max_attempts": 1},
            **extra}


# --- 1. bad input is a 400, not a 500 ---------------------------------------------------------------


@pytest.mark.parametrize("expression", ["cron(0 0 31 2 *)", "cron(0 0 30 2 *)",
                                        "cron(0 0 30 2 ? *)"])
def test_a_cron_that_never_fires_is_explained(api: Api, clock: Clock, target: Receiver,
                                              expression: str) -> None:
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
    bad(api.post("/v2/webhooks", {"url": "https://example.test:99999/hook",
                                  "event_types": ["*"]}), "url")
    hook = body(api.post("/v2/webhooks", {"url": target.url, "event_types": ["*"]}))
    bad(api.request("PUT", f"/v2/webhooks/{hook['id']}",
                    body={"url": "https://example.test:99999/hook", "event_types": ["*"]}), "url")
    bad(api.post("/v2/errors/retry", {
        "service": "s", "error": {"type": "E"},
        "target": {"type": "http", "url": "http://127.0.0.1:70000/x"}}), "target.url")


# --- 3. rates: a schedule failing every run is 0 % successful -----------------------------------------


def test_a_schedule_that_fails_every_run_has_a_success_rate_of_zero(
        api: Api, app_module: Any, clock: Clock) -> None:
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


def test_latency_beyond_the_last_bucket_is_reported_without_infinity(api: Api,
                                                                     clock: Clock) -> None:
    deps.metrics().record("webhooks", {"delivered|whk_1": 1, "latency_ms|whk_1": 45_000,
                                       "latency_count|whk_1": 1}, ("latency", 45_000))
    for path in ("/v2/metrics/summary", "/v2/metrics/webhooks",
                 "/v2/metrics/history?metric=webhooks&window=hour"):
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
        api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    past = (T0 - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    refused = bad(api.post("/v2/schedules", schedule_body(
        target.url, expression=f"at({past})", catchup="skip")), "expression")
    assert "in the past" in json.dumps(refused)
    long_ago = (T0 - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    bad(api.post("/v2/schedules", schedule_body(target.url, expression=f"at({long_ago})")),
        "expression")
    # within the catch-up window with a policy that runs missed runs: it runs once, now
    late = body(api.post("/v2/schedules", schedule_body(
        target.url, expression=f"at({past})", catchup="latest")))
    tick(app_module, clock)
    run_executions(app_module)
    [run] = body(api.get(f"/v2/schedules/{late['id']}/history"))["items"]
    assert run["status"] == "succeeded" and run["trigger"] == "catchup"
    tick(app_module, clock)
    run_executions(app_module)
    assert len(body(api.get(f"/v2/schedules/{late['id']}/history"))["items"]) == 1
    # and an end_at already passed leaves nothing to run
    bad(api.post("/v2/schedules", schedule_body(
        target.url, expression="rate(1 hour)", end_at="2026-11-01T00:00:00Z")), "end_at")


# --- 9. EventBridge's six-field cron -------------------------------------------------------------------


def test_eventbridge_cron_is_accepted(api: Api, clock: Clock, target: Receiver) -> None:
    preview = body(api.post("/v2/schedules/preview", {"expression": "cron(0 9 ? * MON-FRI *)",
                                                      "timezone": "Europe/Berlin"}))
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


def test_a_websocket_message_with_nan_is_answered_not_crashed(clock: Clock,
                                                              keys: dict[str, str]) -> None:
    import app
    from devserver.lambdas import context_for, websocket_event
    from tests.functional.test_realtime import DOMAIN, sent_to

    app.ws_connect(websocket_event("$connect", "N=", DOMAIN, "api",
                                   query={"token": keys["viewer"]}), context_for("c"))
    for raw in ('{"action": "subscribe", "events": NaN}', "[" * 5000 + "]" * 5000):
        app.ws_message(websocket_event("$default", "N=", DOMAIN, "api", body=raw),
                       context_for("m"))
    replies = sent_to("N=")
    assert [r["error"]["code"] for r in replies] == ["bad_message", "bad_message"]
