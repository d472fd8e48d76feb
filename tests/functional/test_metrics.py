"""Metrics windows and the dashboard read models, fed by real activity under moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import deps
from tests.conftest import Api, Clock
from tests.functional.aws_calls import count_calls
from tests.functional.helpers import endpoint, pump, run_executions, schedule, tick
from tests.functional.receivers import Receiver

T0 = datetime(2026, 11, 30, 8, 59, 30, tzinfo=UTC)


def body(response: Any) -> Any:
    return json.loads(response.body)


@pytest.fixture
def clock(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(deps, "clock", clock)
    return clock


def activity(api: Api, app_module: Any, clock: Clock, target: Receiver) -> dict[str, Any]:
    created = schedule(api, target.url)
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    tick(app_module, clock)  # the minute tick notes the soonest starts for the dashboard
    hook = endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.metric"})
    pump(app_module)
    return {"schedule": created, "webhook": hook}


def test_summary_counts_what_happened(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    made = activity(api, app_module, clock, target)
    summary = body(api.get("/v2/metrics/summary"))
    assert summary["api"]["requests"] >= 4 and summary["api"]["latency"]["count"] >= 4
    assert summary["schedules"]["runs"] == 1 and summary["schedules"]["success_rate"] == 1.0
    assert summary["webhooks"]["delivered"] == 1 and summary["webhooks"]["latency"]["p50_ms"]
    per_schedule = body(api.get("/v2/metrics/schedules"))["items"]
    assert per_schedule == [
        {
            "id": made["schedule"]["id"],
            "name": "nightly",
            "runs": 1,
            "failures": 0,
            "success_rate": 1.0,
            "mean_ms": per_schedule[0]["mean_ms"],
        }
    ]
    hooks = body(api.get("/v2/dashboard/webhooks"))["items"]
    assert [h["id"] for h in hooks] == [made["webhook"]["id"]] and hooks[0]["delivered"] == 1


def test_history_in_minute_hour_and_day_windows(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    api.get("/v2/events")
    clock.now += timedelta(minutes=2)
    api.get("/v2/events")
    minutes = body(api.get("/v2/metrics/history?metric=api&window=minute&field=requests"))
    assert [p["window_start"] for p in minutes["points"]][:2] == [
        "2026-11-30T08:59:00Z",
        "2026-11-30T09:01:00Z",
    ]
    days = body(api.get("/v2/metrics/history?metric=api&window=day"))
    assert days["points"][0]["window_start"] == "2026-11-30T00:00:00Z"
    assert days["points"][0]["values"]["requests"] >= 2
    # each window carries its own percentiles (read from its histogram) for the charts
    latency = days["points"][0]["percentiles"]["latency"]
    assert latency["count"] >= 2 and latency["p50_ms"] <= latency["p95_ms"]
    assert api.get("/v2/metrics/history?metric=cpu").status_code == 400
    assert api.get("/v2/metrics/history?metric=api&window=week").status_code == 400


def test_dashboard_overview_and_schedules(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    made = activity(api, app_module, clock, target)
    api.post("/v2/errors/circuit-breaker/payments", {"action": "force_open"})
    overview = body(api.get("/v2/dashboard/overview"))
    assert overview["breakers"] == [{"service": "payments", "state": "forced_open", "name": None}]
    assert overview["next_runs"][0] == {
        "schedule_id": made["schedule"]["id"],
        "name": "nightly",
        "next_run_at": "2026-11-30T09:00:00.000Z",
    }
    assert overview["metrics"]["dead_letters_open"] == 0
    schedules = body(api.get("/v2/dashboard/schedules"))
    assert [r["type"] for r in schedules["recent"]] == ["schedule.executed"]
    assert schedules["upcoming"][0]["schedule_id"] == made["schedule"]["id"]
    timeline = body(api.get("/v2/dashboard/timeline?type=schedule.executed"))
    assert len(timeline["items"]) == 1


def test_dlq_size_follows_entries(api: Api, app_module: Any, clock: Clock) -> None:
    job = body(
        api.post(
            "/v2/errors/retry",
            {
                "service": "s",
                "target": {"type": "event", "event_type": "custom.x"},
                "error": {"type": "Fatal"},
                "retry_policy": {"non_retryable": ["Fatal"]},
            },
        )
    )
    assert body(api.get("/v2/metrics/summary"))["dead_letters_open"] == 1
    api.post(f"/v2/dlq/{job['dead_letter_id']}/resolve", {"note": "ok"})
    assert body(api.get("/v2/metrics/summary"))["dead_letters_open"] == 0


def test_metrics_updated_at_most_once_a_minute(api: Api, app_module: Any, clock: Clock) -> None:
    api.get("/v2/events")
    clock.now = T0 + timedelta(seconds=40)
    tick(app_module, clock)
    tick(app_module, clock)  # a duplicate tick
    events = deps.event_bus().list(10, event_type="metrics.updated").events
    assert len(events) == 1
    assert events[0].data["window_start"] == "2026-11-30T08:59:00Z"
    assert events[0].data["totals"]["api"]["requests"] >= 1


def test_dashboard_reads_stay_small(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    activity(api, app_module, clock, target)
    deps.metrics().flush()  # the activity's own counts, written as its container would
    # the overview also reads what needs attention: per-subject counts of schedules and
    # endpoints (4 Queries), the paused schedules (a filtered list) and the disabled endpoints
    for path, bound in (
        ("/v2/dashboard/overview", 30),
        ("/v2/dashboard/errors", 20),
        ("/v2/dashboard/schedules", 20),
        ("/v2/dashboard/webhooks", 20),
        ("/v2/metrics/summary", 20),
    ):
        with count_calls() as calls:
            assert api.get(path).status_code == 200, path
        assert calls["Scan"] == 0, path
        assert sum(calls.values()) <= bound, (path, calls)


def test_counts_of_thousands_of_subjects_are_all_kept_and_read_in_constant_calls(
    api: Api, clock: Clock
) -> None:
    from chalicelib import aws
    from chalicelib.config import get_settings

    # Given 3,000 endpoints counted within one minute (a window item with a field per endpoint
    # passed DynamoDB's 400 KB near that and its write was refused: those counts were lost)
    metrics = deps.metrics()
    for i in range(3000):
        metrics.count("webhooks", f"whk_{i:05d}", {"attempts": 1, "delivered": 1 + i % 2}, ("latency", 10.0))
    metrics.flush()
    # When they are read per endpoint
    with count_calls() as calls:
        page = json.loads(api.get("/v2/metrics/webhooks").body)
    # Then every endpoint's counts are there, read with the totals in two Queries
    rows = {row["id"]: row for row in page["items"]}
    assert len(rows) == 3000 and rows["whk_00001"]["delivered"] == 2
    assert sum(row["delivered"] for row in rows.values()) == 4500
    assert calls["Query"] == 2, calls
    # and the window's own item holds the totals only: small whatever the number of subjects
    table = get_settings().tables["metrics"]
    hour = clock.now.strftime("%Y-%m-%dT%H:00:00Z")
    item = aws.client("dynamodb").get_item(
        TableName=table, Key={"metric": {"S": "webhooks#hour"}, "window_start": {"S": hour}}
    )["Item"]
    assert len(item) < 40 and float(item["n:delivered"]["N"]) == 4500


def test_per_subject_rows_and_schedule_breakers_are_named(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given a schedule and an endpoint with counts, and a schedule's breaker
    sched = schedule(api, target.url, name="nightly billing")
    hook = endpoint(api, target.url, description="billing hooks")
    metrics = deps.metrics()  # counted as the run and delivery workers count them: named
    metrics.count("schedules", sched["id"], {"runs": 1}, name=sched["name"])
    metrics.count("webhooks", hook["id"], {"delivered": 1}, name=hook["description"])
    metrics.count("schedules", "sch_01GONE00000000000000000000", {"runs": 1})
    deps.breakers().command(f"schedule:{sched['id']}", "force_open")
    # When the per-subject reads and the overview are asked for
    runs = json.loads(api.get("/v2/metrics/schedules").body)["items"]
    hooks = json.loads(api.get("/v2/metrics/webhooks").body)["items"]
    breakers = json.loads(api.get("/v2/dashboard/overview").body)["breakers"]
    # Then each row says whose it is (one counted with no name: None), not only an id, with no
    # read of the schedules or endpoints
    assert {r["id"]: r["name"] for r in runs} == {
        sched["id"]: "nightly billing",
        "sch_01GONE00000000000000000000": None,
    }
    assert [(r["id"], r["name"]) for r in hooks] == [(hook["id"], "billing hooks")]
    assert [(b["service"], b["name"]) for b in breakers] == [(f"schedule:{sched['id']}", "nightly billing")]


def test_the_overview_leads_with_what_needs_attention(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given a schedule that failed twice and one that ran well, a paused schedule, an endpoint
    # that failed and was disabled, one that delivered, and a forced-open breaker
    bad, good = schedule(api, target.url, name="flaky export"), schedule(api, target.url, name="ok")
    paused = schedule(api, target.url, name="on hold")
    api.post(f"/v2/schedules/{paused['id']}/pause", {"note": "vendor maintenance"})
    broken, fine = endpoint(api, target.url, description="billing"), endpoint(api, target.url)
    metrics = deps.metrics()
    metrics.count("schedules", bad["id"], {"runs": 3, "failures": 2}, name=bad["name"])
    metrics.count("schedules", good["id"], {"runs": 5}, name=good["name"])
    metrics.count("webhooks", broken["id"], {"delivered": 1, "failed": 4}, name="billing")
    metrics.count("webhooks", fine["id"], {"delivered": 9})
    metrics.count("reconciler", "delivery", {"recovered": 2})  # as the reconciler counts them
    deps.webhooks().disable(deps.webhooks().require(broken["id"]), "410 Gone")
    deps.breakers().command("payments", "force_open")
    deps.breakers().command("search", "reset")
    metrics.flush()  # written as the workers' containers would
    # When the overview is read
    with count_calls() as calls:
        attention = body(api.get("/v2/dashboard/overview"))["attention"]
    # Then it names each thing that is not well, and nothing that is
    assert [b["service"] for b in attention["breakers"]] == ["payments"]
    assert attention["failing_schedules"] == [
        {"id": bad["id"], "name": "flaky export", "runs": 3, "failures": 2}
    ]
    assert attention["paused_schedules"] == [
        {"id": paused["id"], "name": "on hold", "note": "vendor maintenance"}
    ]
    assert attention["failing_endpoints"] == [
        {"id": broken["id"], "name": "billing", "delivered": 1, "failed": 4}
    ]
    assert [(e["id"], e["reason"]) for e in attention["disabled_endpoints"]] == [(broken["id"], "410 Gone")]
    assert attention["recovered_work"] == [{"kind": "delivery", "recovered": 2}]
    # in a bounded number of reads (none a Scan), whatever is stored
    assert calls["Scan"] == 0 and sum(calls.values()) <= 30, calls


def test_requests_runs_and_deliveries_reach_cloudwatch_as_emf_lines(
    api: Api,
    app_module: Any,
    clock: Clock,
    target: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given EMF on, as on Lambda (lines to stdout, where CloudWatch Logs reads them)
    monkeypatch.setattr(deps.metrics(), "_emf_line", deps._stdout_line)
    capsys.readouterr()
    # When a schedule is read, runs on its time and an event is delivered to an endpoint
    created = schedule(api, target.url)
    assert api.get(f"/v2/schedules/{created['id']}").status_code == 200
    assert api.get("/v2/schedules/sch_01NOTHERE000000000000000000").status_code == 404
    clock.now = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)
    tick(app_module, clock)
    run_executions(app_module)
    endpoint(api, target.url)
    api.post("/v2/events", {"type": "custom.metric"})
    pump(app_module)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    # Then each is an EMF document under the stage, the API's by route template (never the id)
    assert all(
        d["Stage"] == "test" and d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Conductor" for d in lines
    )
    reads = [d for d in lines if d.get("Route") == "GET /v2/schedules/{schedule_id}"]
    assert [(d["Requests"], d["Errors5xx"]) for d in reads] == [(1, 0), (1, 0)]
    assert not any(created["id"] in json.dumps(d) for d in lines)
    # and the run says how late it started, the delivery how long it took
    assert [d["ScheduleRunLateness"] for d in lines if "ScheduleRunLateness" in d] == [0.0]
    assert any(d.get("ScheduleRuns") == 1 for d in lines)
    assert any(d.get("DeliveriesDelivered") == 1 and "DeliveryLatency" in d for d in lines)
