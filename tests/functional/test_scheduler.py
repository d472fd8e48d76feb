"""The scheduler through the API, the minute tick and the executions handler, under moto, with
real HTTP targets on 127.0.0.1 and an injected clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws as factory
from chalicelib import deps
from chalicelib.domain.schedule import LOOK_AHEAD, jitter_offset
from chalicelib.domain.timeutil import parse_iso, to_iso
from chalicelib.store.due import shard_count
from chalicelib.store.schedules import SHARDS
from devserver.lambdas import context_for, sqs_event
from tests.conftest import Api, Clock
from tests.functional.aws_calls import count_calls
from tests.functional.helpers import (
    ARN,
    receive,
    run_attempts,
    run_dispatch,
    run_executions,
    schedule,
    tick,
)
from tests.functional.receivers import Receiver

T0 = datetime(2026, 11, 30, 8, 59, 30, tzinfo=UTC)


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


@pytest.fixture
def clock(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(deps, "clock", clock)
    return clock


def history(api: Api, schedule_id: str) -> list[dict[str, Any]]:
    return body(api.get(f"/v2/schedules/{schedule_id}/history"))["items"]


def test_tick_at_the_right_minute_runs_the_target_exactly_once(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    created = schedule(api, target.url)
    assert created["next_runs"][:2] == ["2026-11-30T09:00:00.000Z", "2026-12-01T09:00:00.000Z"]
    assert len(created["next_runs"]) == 5
    tick(app_module, clock)  # 08:59:30: nothing due yet
    assert run_executions(app_module) == 0
    clock.now = T0 + timedelta(seconds=40)  # 09:00:10
    tick(app_module, clock)
    tick(app_module, clock)  # EventBridge delivered the same tick twice
    assert run_executions(app_module) == 1
    assert len(target.requests) == 1 and json.loads(target.requests[0]["body"]) == {"job": "x"}
    [run] = history(api, created["id"])
    assert run["status"] == "succeeded" and run["trigger"] == "scheduled"
    assert run["scheduled_for"] == "2026-11-30T09:00:00.000Z" and run["status_code"] == 200
    again = body(api.get(f"/v2/schedules/{created['id']}"))
    assert again["counters"]["runs"] == 1 and again["counters"]["last_success_at"]
    assert again["next_runs"][0] == "2026-12-01T09:00:00.000Z"


def test_two_racing_ticks_start_one_run(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    created = schedule(api, target.url)
    clock.now = T0 + timedelta(seconds=40)
    scheduler = deps.scheduler()
    store = scheduler.store
    stale = {str(s): store.due_page(str(s), "2026-11-30T09:00:10.000Z", None, 500) for s in range(SHARDS)}
    tick(app_module, clock)  # the first tick finds it, its worker claims, advances and sends
    original = store.due_page
    store.due_page = lambda shard, until, after, limit: stale[shard]  # read before that
    try:
        tick(app_module, clock)  # the second hands the same on; its worker finds it moved on
    finally:
        store.due_page = original
    assert run_executions(app_module) == 1  # sent once: not again by the second tick's worker
    assert len(target.requests) == 1
    assert len(history(api, created["id"])) == 1


@pytest.fixture
def look_ahead() -> Iterator[None]:
    """The scheduler with its default look-ahead (the suite turns it off: see tests/conftest.py)."""
    deps.scheduler().look_ahead = LOOK_AHEAD
    yield
    deps.scheduler.cache_clear()


def test_a_run_due_before_the_next_tick_is_sent_ahead_and_starts_on_its_second(
    api: Api, app_module: Any, clock: Clock, target: Receiver, look_ahead: None
) -> None:
    # Given a daily 09:00 schedule and a tick 2 s before it (real SQS delays: 2 s)
    clock.now = datetime(2026, 11, 30, 8, 59, 58, tzinfo=UTC)
    created = schedule(api, target.url)
    assert created["next_runs"][0] == "2026-11-30T09:00:00.000Z"
    tick(app_module, clock)
    # Then this tick took it (the next would be a minute late): claimed, waiting to start
    [run] = history(api, created["id"])
    assert (run["status"], run["trigger"], run["scheduled_for"]) == (
        "pending",
        "scheduled",
        "2026-11-30T09:00:00.000Z",
    )
    # and the API still announces it, although the stored next run moved on to tomorrow
    again = body(api.get(f"/v2/schedules/{created['id']}"))
    assert again["next_runs"][:2] == ["2026-11-30T09:00:00.000Z", "2026-12-01T09:00:00.000Z"]
    assert deps.scheduler().upcoming(5)[0]["next_run_at"] == "2026-11-30T09:00:00.000Z"
    # When its message arrives (SQS holds it for its delay: waited for, bounded)
    sqs = factory.client("sqs")
    url = sqs.get_queue_url(QueueName="conductor-test-executions")["QueueUrl"]
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"])["run_at"] == "2026-11-30T09:00:00.000Z"
    clock.now = datetime(2026, 11, 30, 9, 0, 0, 250_000, tzinfo=UTC)
    app_module.run_schedule_executions(
        sqs_event(messages, ARN + "conductor-test-executions", "us-east-1"), context_for("x")
    )
    # Then it started on its second, and the run says by how much
    [run] = history(api, created["id"])
    assert run["status"] == "succeeded" and len(target.requests) == 1
    assert (run["start_offset_seconds"], run["start_delay_ms"]) == (0, 250.0)


def test_a_run_that_arrives_before_its_time_waits_for_it(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given a claimed run whose message comes early (a repair; a delay past SQS's 15 minutes)
    created = schedule(api, target.url)
    clock.now = T0 + timedelta(seconds=40)
    tick(app_module, clock)
    messages = [m for batch in receive("conductor-test-executions") for m in batch]
    assert json.loads(messages[0]["Body"])["run_at"] == "2026-11-30T09:00:00.000Z"
    clock.now = datetime(2026, 11, 30, 8, 59, 0, tzinfo=UTC)  # a minute before its time
    # When it is handled, it is sent on to arrive at its time, not run
    app_module.run_schedule_executions(
        sqs_event(messages, ARN + "conductor-test-executions", "us-east-1"), context_for("x")
    )
    assert history(api, created["id"])[0]["status"] == "pending" and not target.requests
    waiting = factory.client("sqs").get_queue_attributes(
        QueueUrl=factory.client("sqs").get_queue_url(QueueName="conductor-test-executions")["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    assert waiting["ApproximateNumberOfMessagesDelayed"] == "1"


def test_next_runs_announce_when_runs_start_their_offsets_in(
    api: Api, clock: Clock, target: Receiver
) -> None:
    created = schedule(api, target.url, jitter_seconds=600)
    runs = [
        datetime(2026, 11, 30 + d, 9, tzinfo=UTC) if d == 0 else datetime(2026, 12, d, 9, tzinfo=UTC)
        for d in range(5)
    ]
    assert created["next_runs"] == [
        to_iso(t + timedelta(seconds=jitter_offset(created["id"], t, 600))) for t in runs
    ]


def test_pause_and_resume(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    created = schedule(api, target.url)
    paused = body(api.post(f"/v2/schedules/{created['id']}/pause", {"note": "maintenance"}))
    assert paused["enabled"] is False and paused["paused_note"] == "maintenance"
    assert paused["next_runs"] == []
    clock.now = T0 + timedelta(seconds=40)
    tick(app_module, clock)
    assert run_executions(app_module) == 0
    resumed = body(api.post(f"/v2/schedules/{created['id']}/resume"))
    assert resumed["enabled"] is True and resumed["next_runs"][0] == "2026-12-01T09:00:00.000Z"
    assert deps.event_bus().list(50, event_type="schedule.paused").events


def test_manual_run(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    created = schedule(api, target.url)
    response = api.post(f"/v2/schedules/{created['id']}/execute")
    assert response.status_code == 202
    execution = body(response)
    assert execution["id"].startswith("exe_") and execution["trigger"] == "manual"
    run_executions(app_module)
    [run] = history(api, created["id"])
    assert run["id"] == execution["id"] and run["status"] == "succeeded"
    assert len(target.requests) == 1


def test_a_failing_run_hands_over_to_the_retry_engine(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    target.set_script([(500, {}), (200, {})])
    created = schedule(
        api,
        target.url,
        retry_policy={"max_attempts": 3, "strategy": "fixed", "initial_delay_seconds": 0, "jitter": "none"},
    )
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    [run] = history(api, created["id"])
    assert run["status"] == "retrying" and run["retry_job_id"].startswith("rty_")
    job = body(api.get(f"/v2/errors/retry/{run['retry_job_id']}"))
    assert job["workflow_id"] == created["id"] and job["execution_id"] == run["id"]
    run_attempts(app_module)
    assert body(api.get(f"/v2/errors/retry/{run['retry_job_id']}"))["status"] == "succeeded"
    assert history(api, created["id"])[0]["status"] == "succeeded"
    failed_events = deps.event_bus().list(50, event_type="schedule.failed").events
    assert failed_events[0].data["retry_job_id"] == run["retry_job_id"]


def test_without_retries_a_failing_run_is_failed(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    target.set_script([(500, {})])
    created = schedule(api, target.url)
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    [run] = history(api, created["id"])
    assert run["status"] == "failed" and run["error"]["type"] == "HTTP500"
    assert body(api.get(f"/v2/schedules/{created['id']}"))["counters"]["failures"] == 1


def test_delete_stops_future_runs(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    created = schedule(api, target.url)
    assert api.delete(f"/v2/schedules/{created['id']}").status_code == 204
    clock.now = T0 + timedelta(seconds=40)
    tick(app_module, clock)
    assert run_executions(app_module) == 0 and target.requests == []
    assert api.get(f"/v2/schedules/{created['id']}").status_code == 404
    assert api.delete(f"/v2/schedules/{created['id']}").status_code == 404


def test_put_is_optimistic(api: Api, clock: Clock, target: Receiver) -> None:
    created = schedule(api, target.url)
    change = {
        "name": "renamed",
        "expression": "rate(5 minutes)",
        "target": {"type": "http", "url": target.url},
    }
    first = api.request("PUT", f"/v2/schedules/{created['id']}", body={**change, "version": 1})
    assert first.status_code == 200 and body(first)["version"] == 2
    assert body(first)["next_runs"][0] == "2026-11-30T09:04:30.000Z"  # every 5 min from now
    stale = api.request("PUT", f"/v2/schedules/{created['id']}", body=change, headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and body(stale)["error"]["code"] == "conflict"
    fresh = api.request("PUT", f"/v2/schedules/{created['id']}", body=change, headers={"If-Match": '"2"'})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == '"3"'


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"expression": "cron(0 9 * *)"}, "expression", "5 fields"),
        ({"expression": "rate(5 fortnights)"}, "expression", "cron(...), rate(...) or at(...)"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "IANA"),
        ({"overlap_policy": "maybe"}, "overlap_policy", ""),
        ({"jitter_seconds": 901}, "jitter_seconds", ""),
        ({"start_at": "2026-12-02T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"}, "end_at", ""),
    ],
)
def test_invalid_definitions_are_400_with_the_reason(
    api: Api, clock: Clock, patch: dict[str, Any], field: str, words: str
) -> None:
    request = {
        "name": "x",
        "expression": "rate(1 hour)",
        "target": {"type": "event", "event_type": "custom.tick"},
        **patch,
    }
    response = api.post("/v2/schedules", request)
    assert response.status_code == 400
    details = body(response)["error"]["details"]
    assert field in {d["field"] for d in details}
    assert words in " ".join(d["problem"] for d in details)


def test_overlap_skip_and_allow(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    skipping = schedule(api, target.url, overlap_policy="skip")
    allowing = schedule(api, target.url, overlap_policy="allow")
    store = deps.scheduler().store
    for created in (skipping, allowing):
        assert store.take_slot(created["id"], "exe_going", exclusive=False)  # a run is still going
        api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    assert history(api, skipping["id"])[0]["status"] == "skipped"
    assert history(api, allowing["id"])[0]["status"] == "succeeded"
    assert deps.event_bus().list(50, event_type="schedule.skipped").events


def test_overlap_buffer_one_runs_the_waiting_run_after(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    created = schedule(api, target.url, overlap_policy="buffer_one")
    scheduler = deps.scheduler()
    assert scheduler.store.take_slot(created["id"], "exe_going", exclusive=True)  # run A is going
    api.post(f"/v2/schedules/{created['id']}/execute")  # run B: buffered
    api.post(f"/v2/schedules/{created['id']}/execute")  # run C: skipped (one may wait)
    run_executions(app_module)
    statuses = sorted(run["status"] for run in history(api, created["id"]))
    assert statuses == ["pending", "skipped"]
    # B waiting past the grace period is sent again by the reconciler: it stays buffered
    clock.now += timedelta(seconds=deps.reconciler().grace + 1)
    assert deps.reconciler().run()["run"] == 1
    run_executions(app_module)
    assert sorted(run["status"] for run in history(api, created["id"])) == ["pending", "skipped"]
    deps.runs().release(created["id"], "exe_going", True)  # run A finishes: B is queued
    run_executions(app_module)
    assert sorted(run["status"] for run in history(api, created["id"])) == ["skipped", "succeeded"]


def test_overlap_buffer_all_runs_every_waiting_run_in_turn(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    created = schedule(api, target.url, overlap_policy="buffer_all")
    assert created["overlap_policy"] == "buffer_all"
    scheduler = deps.scheduler()
    assert scheduler.store.take_slot(created["id"], "exe_going", exclusive=True)  # run A is going
    made = [body(api.post(f"/v2/schedules/{created['id']}/execute"))["id"] for _ in range(3)]
    run_executions(app_module)  # B, C, D: all wait (Temporal's buffer_all), none skipped
    assert [r["status"] for r in history(api, created["id"])] == ["pending"] * 3
    # a waiting run sent again by the reconciler stays waiting once (it would take a turn)
    clock.now += timedelta(seconds=deps.reconciler().grace + 1)
    assert deps.reconciler().run()["run"] == 3
    run_executions(app_module)
    assert len(scheduler.store.get(created["id"]).buffered_all) == 3
    deps.runs().release(created["id"], "exe_going", True)  # A ends: B, then C, then D
    run_executions(app_module)
    runs = {r["id"]: r for r in history(api, created["id"])}
    assert [runs[i]["status"] for i in made] == ["succeeded"] * 3
    assert [runs[i]["started_at"] for i in made] == sorted(runs[i]["started_at"] for i in made)
    assert len(target.requests) == 3 and scheduler.store.get(created["id"]).running == 0


def test_a_backfill_has_its_own_overlap_policy(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    created = schedule(api, target.url, expression="rate(1 hour)", overlap_policy="skip")
    assert deps.scheduler().store.take_slot(created["id"], "exe_going", exclusive=True)
    # a backfill whose runs go side by side, although the schedule skips overlapping runs
    response = api.post(
        f"/v2/schedules/{created['id']}/backfill",
        {"from": "2026-11-30T05:00:00Z", "to": "2026-11-30T08:00:00Z", "overlap_policy": "allow"},
    )
    assert response.status_code == 202
    assert {e["overlap_policy"] for e in body(response)["executions"]} == {"allow"}
    run_executions(app_module)
    assert [r["status"] for r in history(api, created["id"])] == ["succeeded"] * 3
    # without one, the schedule's own applies: skipped while a run is going
    api.post(
        f"/v2/schedules/{created['id']}/backfill",
        {"from": "2026-11-29T05:00:00Z", "to": "2026-11-29T06:00:00Z"},
    )
    run_executions(app_module)
    assert [r["status"] for r in history(api, created["id"])].count("skipped") == 1
    bad = api.post(
        f"/v2/schedules/{created['id']}/backfill",
        {"from": "2026-11-29T05:00:00Z", "to": "2026-11-29T06:00:00Z", "overlap_policy": "x"},
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(("policy", "expected"), [("skip", 2), ("latest", 3), ("all", 10)])
def test_catch_up_after_missed_ticks(
    api: Api, app_module: Any, clock: Clock, target: Receiver, policy: str, expected: int
) -> None:
    created = schedule(api, target.url, expression="rate(1 minute)", catchup=policy)
    clock.now = T0 + timedelta(minutes=10)  # ten minutes without a tick
    tick(app_module, clock)
    run_executions(app_module)
    runs = history(api, created["id"])
    assert len(runs) == expected == len(target.requests)
    assert sum(r["trigger"] == "catchup" for r in runs) == expected - 2


def test_backfill_a_past_range(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    created = schedule(api, target.url, expression="rate(1 hour)")
    response = api.post(
        f"/v2/schedules/{created['id']}/backfill",
        {"from": "2026-11-30T05:00:00Z", "to": "2026-11-30T08:00:00Z"},
    )
    assert response.status_code == 202
    runs = body(response)["executions"]
    assert [r["scheduled_for"] for r in runs] == [
        "2026-11-30T05:59:30.000Z",
        "2026-11-30T06:59:30.000Z",
        "2026-11-30T07:59:30.000Z",
    ]
    run_executions(app_module)
    assert len(target.requests) == 3
    too_many = api.post(
        f"/v2/schedules/{created['id']}/backfill",
        {"from": "2026-11-01T00:00:00Z", "to": "2026-11-30T00:00:00Z"},
    )
    assert too_many.status_code == 400
    future = api.post(
        f"/v2/schedules/{created['id']}/backfill",
        {"from": "2026-11-30T05:00:00Z", "to": "2026-12-30T00:00:00Z"},
    )
    assert future.status_code == 400


def test_tick_cost_follows_due_schedules_not_all(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    for i in range(12):  # 3 due at 09:00, 9 due much later
        schedule(api, target.url, name=f"s{i}", expression="cron(0 9 * * *)" if i < 3 else "cron(0 18 * * *)")
    clock.now = T0 + timedelta(seconds=40)
    with count_calls() as calls:
        deps.scheduler().tick()  # the tick handler also publishes metrics.updated: not counted
    # the tick only finds: a Query per shard for what is due and the 3 handed on in one
    # message; and a Query per shard for the soonest starts, noted in one item for the dashboard
    assert calls["Scan"] == 0 and calls["Query"] == 2 * SHARDS
    assert calls["SendMessage"] == 1 and calls["PutItem"] == 1
    assert sum(calls.values()) - calls["GetQueueUrl"] == 2 * SHARDS + 2
    with count_calls() as calls:
        assert run_dispatch(app_module) == 1
    # a worker fires: one BatchGetItem, one write per run (claim and advance), one batch send
    assert calls["BatchGetItem"] == 1 and calls["TransactWriteItems"] == 3
    assert calls["SendMessageBatch"] == 1
    assert (
        sum(calls.values())
        == 5
        + calls["ReceiveMessage"]
        + calls["DeleteMessageBatch"]
        + calls["DeleteMessage"]
        + calls["GetQueueUrl"]
    )
    with count_calls() as calls:
        tick(app_module, clock)  # the whole handler: nothing due now, plus the minute's metrics
    # one Query per due shard and metric, and the reconciler's: one per by-due shard and kind
    reconciler = sum(shard_count(kind) for kind in ("retry_job", "delivery", "run", "event"))
    assert calls["Scan"] == 0 and calls["Query"] == 2 * SHARDS + 5 + reconciler


def test_a_rare_tag_is_listed_in_two_calls_and_follows_every_change(
    api: Api, clock: Clock, target: Receiver
) -> None:
    # Given 60 schedules tagged "bulk" and one tagged "rare"
    for _ in range(60):
        schedule(api, target.url, tags=["bulk"])
    rare = schedule(api, target.url, tags=["rare", "team:core"])
    # When the rare tag is listed, Then one Query of its list and one BatchGetItem find it
    with count_calls() as calls:
        found = body(api.get("/v2/schedules?tag=rare&limit=5"))["items"]
    assert [s["id"] for s in found] == [rare["id"]]
    assert calls["Query"] == 1 and calls["BatchGetItem"] == 1, calls
    # And pausing, retagging and deleting move it between lists (each one transaction)
    with count_calls() as calls:
        api.post(f"/v2/schedules/{rare['id']}/pause", {"note": "n"})
    assert calls["TransactWriteItems"] == 1 and calls["PutItem"] == 0
    assert body(api.get("/v2/schedules?tag=rare&enabled=true"))["items"] == []
    assert [s["id"] for s in body(api.get("/v2/schedules?tag=rare&enabled=false"))["items"]] == [rare["id"]]
    paused = body(api.get(f"/v2/schedules/{rare['id']}"))
    api.request(
        "PUT",
        f"/v2/schedules/{rare['id']}",
        {
            "name": paused["name"],
            "expression": paused["expression"],
            "target": paused["target"],
            "tags": ["renamed"],
            "enabled": False,
        },
    )
    assert body(api.get("/v2/schedules?tag=rare"))["items"] == []
    assert len(body(api.get("/v2/schedules?tag=renamed&enabled=false"))["items"]) == 1
    assert len(body(api.get("/v2/schedules?enabled=true&limit=100"))["items"]) == 60
    assert api.request("DELETE", f"/v2/schedules/{rare['id']}").status_code == 204
    assert body(api.get("/v2/schedules?tag=renamed"))["items"] == []
    assert body(api.get("/v2/schedules?enabled=false"))["items"] == []


def test_history_never_reads_runs_waiting_for_ttl_and_pages_through_the_live_ones(
    api: Api, clock: Clock, target: Receiver
) -> None:
    from chalicelib.domain.schedule import Execution
    from chalicelib.domain.timeutil import to_iso

    # Given a schedule with 150 expired runs still stored (TTL deletes late) and 25 live ones
    created = schedule(api, target.url)
    runs = deps.schedule_stores()[1]
    now = int(clock.now.timestamp())
    for i in range(175):
        at = to_iso(clock.now - timedelta(minutes=i))
        runs.claim(
            Execution(
                schedule_id=created["id"],
                sort_key=f"{at}#exe_{i:026d}",
                id=f"exe_{i:026d}",
                scheduled_for=at,
                trigger="scheduled",
                status="succeeded",
                created_at=at,
                expires_at=now - 60 if i % 7 else now + 86400 - i,
            )
        )
    live = {f"exe_{i:026d}" for i in range(175) if not i % 7}
    # When its history is read, Then one Query reads live runs only
    with count_calls() as calls:
        first = body(api.get(f"/v2/schedules/{created['id']}/history?limit=10"))
    assert calls["Query"] == 1 and len(first["items"]) == 10
    # and the pages together hold every live run once, the latest made first
    seen = [r["id"] for r in first["items"]]
    cursor = first["next_cursor"]
    for _ in range(5):  # bounded
        if not cursor:
            break
        page = body(api.get(f"/v2/schedules/{created['id']}/history?limit=10&cursor={cursor}"))
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert set(seen) == live and len(seen) == len(live) == 25
    assert seen == sorted(seen)  # exe_0 expires last: it was made last


def test_list_filters_and_batch_execute(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    a = schedule(api, target.url, tags=["team:core"])
    schedule(api, target.url, tags=["team:ops"], enabled=False)
    tagged = body(api.get("/v2/schedules?tag=team:core"))["items"]
    assert [s["id"] for s in tagged] == [a["id"]]
    disabled = body(api.get("/v2/schedules?enabled=false"))["items"]
    assert [s["tags"] for s in disabled] == [["team:ops"]]
    result = body(
        api.post(
            "/v2/batch/schedules/execute",
            {"items": [{"id": a["id"]}, {"id": "sch_01M8KGG0H1398KT48NHQHKJ2H4"}, {"id": "nope"}]},
        )
    )
    assert [r["status"] for r in result["results"]] == ["ok", "error", "error"]
    assert result["results"][1]["error"]["code"] == "not_found"


def test_preview(api: Api, clock: Clock) -> None:
    response = api.post(
        "/v2/schedules/preview", {"expression": "cron(0 9 * * 1-5)", "timezone": "Europe/Berlin", "count": 3}
    )
    # now is 09:59:30 in Berlin: today's 09:00 has passed
    assert body(response)["next_runs"] == [
        "2026-12-01T08:00:00.000Z",
        "2026-12-02T08:00:00.000Z",
        "2026-12-03T08:00:00.000Z",
    ]
    assert body(response)["expression_words"] == "At 09:00, Monday through Friday"


def test_a_schedule_says_its_expression_in_words_and_follows_every_change(
    api: Api, clock: Clock, target: Receiver
) -> None:
    created = schedule(api, target.url, expression="cron(0 9 ? * 2-6 *)")
    assert created["expression_words"] == "At 09:00, Monday through Friday"
    changed = body(
        api.request(
            "PUT",
            f"/v2/schedules/{created['id']}",
            {
                **{k: created[k] for k in ("name", "timezone", "retry_policy")},
                "target": {**created["target"], "headers": {}},
                "expression": "rate(15 minutes)",
                "version": created["version"],
            },
        )
    )
    assert changed["expression_words"] == "Every 15 minutes"
    assert body(api.get(f"/v2/schedules/{created['id']}"))["expression_words"] == "Every 15 minutes"


def test_a_schedule_pauses_itself_after_failed_runs_in_a_row(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given a schedule that pauses after 3 failed runs in a row, and a target that fails twice,
    # succeeds once, then fails for good
    target.set_script([(500, {}), (500, {}), (200, {}), (500, {})])
    created = schedule(api, target.url, pause_after_failures=3)
    assert created["pause_after_failures"] == 3

    def run_once() -> dict[str, Any]:
        api.post(f"/v2/schedules/{created['id']}/execute")
        run_executions(app_module)
        return body(api.get(f"/v2/schedules/{created['id']}"))

    # When it runs: fail, fail, succeed (the streak restarts), fail, fail
    streaks = [run_once()["counters"]["consecutive_failures"] for _ in range(5)]
    assert streaks == [1, 2, 0, 1, 2]
    still = body(api.get(f"/v2/schedules/{created['id']}"))
    assert still["enabled"] is True
    # Then the third failure in a row pauses it, with the reason in the note and the event
    paused = run_once()
    assert paused["enabled"] is False and paused["next_runs"] == []
    assert paused["paused_note"] == "Paused after 3 failed runs in a row (pause_after_failures=3)."
    [event] = deps.event_bus().list(50, event_type="schedule.paused").events
    assert event.data == {
        "schedule_id": created["id"],
        "note": paused["paused_note"],
        "reason": "failures",
        "failures": 3,
    }
    # and resuming starts the count again
    resumed = body(api.post(f"/v2/schedules/{created['id']}/resume"))
    assert resumed["enabled"] is True and resumed["counters"]["consecutive_failures"] == 0


def test_a_run_counts_as_failed_only_when_its_retries_gave_up(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given pause after 1 failed run, with one retry: a run whose retry succeeds is no failure
    target.set_script([(500, {}), (200, {}), (500, {})])
    created = schedule(
        api,
        target.url,
        pause_after_failures=1,
        retry_policy={"max_attempts": 2, "strategy": "fixed", "initial_delay_seconds": 0, "jitter": "none"},
    )
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    retrying = body(api.get(f"/v2/schedules/{created['id']}"))
    assert retrying["enabled"] is True and retrying["counters"]["consecutive_failures"] == 0
    run_attempts(app_module)
    assert body(api.get(f"/v2/schedules/{created['id']}"))["enabled"] is True
    # When the next run fails and its retry gives up too
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    run_attempts(app_module)
    # Then the schedule is paused once the retry job dead-lettered
    [latest, first] = history(api, created["id"])
    assert (latest["status"], first["status"]) == ("failed", "succeeded")
    paused = body(api.get(f"/v2/schedules/{created['id']}"))
    assert paused["enabled"] is False and paused["counters"]["consecutive_failures"] == 1


def test_batch_pause_and_resume(api: Api, clock: Clock, target: Receiver) -> None:
    first, second = schedule(api, target.url), schedule(api, target.url)
    missing = "sch_" + "0" * 26
    response = api.post(
        "/v2/batch/schedules/pause",
        {
            "items": [
                {"id": first["id"], "note": "freeze"},
                {"id": second["id"]},
                {"id": missing},
                {"id": "nope"},
            ]
        },
    )
    assert response.status_code == 200
    result = body(response)
    assert [r["status"] for r in result["results"]] == ["ok", "ok", "error", "error"]
    assert result["results"][2]["error"]["code"] == "not_found"
    assert result["results"][3]["error"]["code"] == "validation_error"
    assert (result["succeeded"], result["failed"]) == (2, 2)
    assert body(api.get(f"/v2/schedules/{first['id']}"))["paused_note"] == "freeze"
    resumed = body(
        api.post("/v2/batch/schedules/resume", {"items": [{"id": first["id"]}, {"id": second["id"]}]})
    )
    assert resumed["succeeded"] == 2
    assert all(body(api.get(f"/v2/schedules/{s['id']}"))["enabled"] for s in (first, second))
    assert api.post("/v2/batch/schedules/pause", {"items": []}).status_code == 400


def test_only_the_runs_own_retry_job_settles_it_not_ids_a_caller_chose(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from tests.functional.receivers import receiver

    # Given a run that failed and handed over to its retry job (whose attempt waits 10 minutes)
    target.set_script([(500, {})])
    created = schedule(
        api,
        target.url,
        retry_policy={"max_attempts": 2, "strategy": "fixed", "initial_delay_seconds": 600, "jitter": "none"},
    )
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    [run] = history(api, created["id"])
    job = body(api.get(f"/v2/errors/retry/{run['retry_job_id']}"))
    assert job["origin"] == {"type": "schedule_run", "schedule_id": created["id"], "execution_id": run["id"]}
    # When a caller hands over a job naming the same schedule and run ids, and it succeeds
    with receiver([(200, {})]) as ok:
        impostor = body(
            api.post(
                "/v2/errors/retry",
                {
                    "service": "other",
                    "target": {"type": "http", "url": ok.url},
                    "error": {"type": "HTTP500"},
                    "workflow_id": created["id"],
                    "execution_id": run["id"],
                    "retry_policy": {"max_attempts": 2, "initial_delay_seconds": 0},
                },
            )
        )
        assert impostor["origin"] == {"type": "api"}
        run_attempts(app_module)
        assert len(ok.requests) == 1
    # Then the run is not settled by it (ids in a request are not a link): it still waits for
    # its own retry job
    assert body(api.get(f"/v2/errors/retry/{impostor['id']}"))["status"] == "succeeded"
    assert history(api, created["id"])[0]["status"] == "retrying"


@pytest.mark.parametrize("value", [0, 101, "3", True])
def test_pause_after_failures_must_be_a_count_of_1_to_100(
    api: Api, clock: Clock, target: Receiver, value: Any
) -> None:
    response = api.post(
        "/v2/schedules",
        {
            "name": "x",
            "expression": "rate(1 day)",
            "pause_after_failures": value,
            "target": {"type": "http", "url": target.url},
        },
    )
    assert response.status_code == 400
    assert body(response)["error"]["details"][0]["field"] == "pause_after_failures"


def test_lists_name_the_schedule_a_retry_job_and_dead_letter_belong_to(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given a schedule whose run failed, was retried once and dead-lettered, and a job of an
    # ordinary service
    target.set_script([(500, {})] * 4)
    created = schedule(
        api, target.url, name="ledger export", retry_policy={"max_attempts": 2, "initial_delay_seconds": 0}
    )
    api.post(f"/v2/schedules/{created['id']}/execute")
    run_executions(app_module)
    clock.now += timedelta(seconds=5)
    run_attempts(app_module)
    api.post(
        "/v2/errors/retry",
        {"service": "payments", "error": {"type": "Timeout"}, "target": {"type": "http", "url": target.url}},
    )
    # When the lists are read, Then a schedule's service is named, another is not
    with count_calls() as calls:
        jobs = body(api.get("/v2/errors/retry"))["items"]
    assert {j["service"]: j["service_name"] for j in jobs} == {
        f"schedule:{created['id']}": "ledger export",
        "payments": None,
    }
    assert calls["BatchGetItem"] <= 1  # the page's schedules, in one read
    letters = body(api.get("/v2/dlq"))["items"]
    assert [(d["service"], d["service_name"]) for d in letters] == [
        (f"schedule:{created['id']}", "ledger export")
    ]
    assert body(api.get("/v2/metrics/errors"))["names"] == {f"schedule:{created['id']}": "ledger export"}


def test_a_schedules_answer_put_back_whole_is_accepted(api: Api, clock: Clock, target: Receiver) -> None:
    # A client that edits what GET answered and PUTs it all back (read-only fields included)
    # keeps working when answers gain a field; a misspelt field is still refused
    created = body(api.get(f"/v2/schedules/{schedule(api, target.url)['id']}"))
    edited = {**created, "name": "renamed", "target": {**created["target"], "headers": {}}}
    response = api.request("PUT", f"/v2/schedules/{created['id']}", edited)
    assert response.status_code == 200, response.body
    assert body(response)["name"] == "renamed"
    typo = api.request("PUT", f"/v2/schedules/{created['id']}", {**edited, "version": None, "nmae": "x"})
    assert typo.status_code == 400 and "nmae" in json.dumps(body(typo))


def test_the_anchors_schedule_features(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    """EventBridge's flexible window and ActionAfterCompletion, Temporal's limited actions,
    Kubernetes' history limits: each accepted, shown, and doing what it says."""
    # a flexible window: each run starts at a stable point within it, announced as such
    flexible = schedule(
        api, target.url, flexible_time_window={"mode": "FLEXIBLE", "maximum_window_minutes": 30}
    )
    assert flexible["flexible_time_window"] == {"mode": "FLEXIBLE", "maximum_window_minutes": 30}
    start = parse_iso(flexible["next_runs"][0])
    nine = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert nine <= start < nine + timedelta(minutes=30)
    # a one-time schedule that deletes itself after its run
    once = schedule(api, target.url, expression="at(2026-11-30T09:00:00)", action_after_completion="delete")
    # limited actions: two runs, then it pauses itself
    limited = schedule(
        api,
        target.url,
        expression="rate(1 minute)",
        remaining_actions=2,
        history_limits={"succeeded": 1, "failed": 0},
    )
    assert limited["remaining_actions"] == 2 and len(limited["next_runs"]) == 2
    for minutes in (1, 2, 3):
        clock.now = T0 + timedelta(minutes=minutes, seconds=1)
        tick(app_module, clock)
        run_executions(app_module)
    assert api.get(f"/v2/schedules/{once['id']}").status_code == 404  # deleted, as it asked
    assert len(history(api, once["id"])) == 1  # its history stays readable
    after = body(api.get(f"/v2/schedules/{limited['id']}"))
    assert after["enabled"] is False and after["remaining_actions"] == 0
    assert "remaining_actions" in after["paused_note"] and after["next_runs"] == []
    paused = deps.event_bus().list(50, event_type="schedule.paused").events
    assert paused[0].data["reason"] == "remaining_actions"
    # two runs succeeded; the history keeps the newest one (history_limits)
    runs = history(api, limited["id"])
    assert [r["status"] for r in runs] == ["succeeded"]
    assert runs[0]["scheduled_for"] == "2026-11-30T09:01:30.000Z"  # the newer of the two
    # mistakes are 400s that say why
    for bad in (
        {"flexible_time_window": {"mode": "FLEXIBLE"}},
        {"flexible_time_window": {"mode": "OFF", "maximum_window_minutes": 5}},
        {"remaining_actions": 0},
        {"action_after_completion": "DELETE_NOW"},
        {"history_limits": {"succeeded": -1, "failed": 1}},
    ):
        response = api.post(
            "/v2/schedules",
            {
                "name": "x",
                "expression": "rate(1 hour)",
                "target": {"type": "http", "method": "POST", "url": target.url},
                **bad,
            },
        )
        assert response.status_code == 400, bad


def test_a_shard_past_one_page_is_paged_on_by_the_workers(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import scheduler as scheduler_module
    from chalicelib.store import schedules as schedules_store

    # Given 5 schedules due in one shard, and pages of 2
    monkeypatch.setattr(schedules_store, "shard_of", lambda schedule_id: "0")
    monkeypatch.setattr(scheduler_module, "PAGE", 2)
    made = [schedule(api, target.url, name=f"paged {i}")["id"] for i in range(5)]
    clock.now = T0 + timedelta(seconds=40)
    # When the tick takes the first page and hands the rest on
    with count_calls() as calls:
        assert deps.scheduler().tick()["due"] == 2
    assert calls["Query"] == 2 * SHARDS
    assert run_dispatch(app_module) >= 3  # the chunk, then two pages of the rest
    # Then every one ran, once
    assert run_executions(app_module) == 5 and len(target.requests) == 5
    assert all(len(history(api, schedule_id)) == 1 for schedule_id in made)


def test_an_every_minute_schedule_is_among_the_overviews_next_runs(
    api: Api, app_module: Any, clock: Clock, target: Receiver, look_ahead: None
) -> None:
    # Given a rate(1 minute) schedule and a daily one, and the minute tick that took the first
    # run of the every-minute one ahead (its stored next run has moved on)
    clock.now = datetime(2026, 11, 30, 8, 59, 40, tzinfo=UTC)
    minutely = schedule(api, target.url, name="every minute", expression="rate(1 minute)")
    daily = schedule(api, target.url, name="daily")
    tick(app_module, clock)
    # Then the overview lists both, each at the time its run will start, soonest first
    upcoming = deps.scheduler().upcoming(5)
    assert {u["schedule_id"] for u in upcoming[:2]} == {minutely["id"], daily["id"]}
    assert upcoming == sorted(upcoming, key=lambda u: u["next_run_at"])
    announced = {u["schedule_id"]: u["next_run_at"] for u in upcoming}
    assert announced[minutely["id"]] == minutely["next_runs"][0]
    assert announced[daily["id"]] == "2026-11-30T09:00:00.000Z"
    overview = body(api.get("/v2/dashboard/schedules"))["upcoming"]
    assert {u["schedule_id"] for u in overview} >= {minutely["id"], daily["id"]}


def test_a_due_shard_that_cannot_be_read_leaves_the_others_on_time(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.errors import DependencyUnavailable
    from chalicelib.store import schedules as schedules_store

    # Given two schedules due in different shards, and one shard's Query failing
    placed: dict[str, str] = {}  # the first schedule made in shard 3, the second in shard 7
    monkeypatch.setattr(
        schedules_store,
        "shard_of",
        lambda schedule_id: placed.setdefault(schedule_id, "37"[len(placed)] if len(placed) < 2 else "0"),
    )
    lost, kept = schedule(api, target.url, name="shard 3"), schedule(api, target.url, name="7")
    store = deps.scheduler().store
    real = store.due_page

    def failing(shard: str, *args: Any) -> Any:
        if shard == "3":
            raise DependencyUnavailable("dynamodb")
        return real(shard, *args)

    monkeypatch.setattr(store, "due_page", failing)
    clock.now = T0 + timedelta(seconds=40)
    # When the tick runs: it does not fail, and says which shards it could not read
    assert deps.scheduler().tick() == {"due": 1, "messages": 1, "unread_shards": 1}
    run_dispatch(app_module)
    run_executions(app_module)
    assert len(history(api, kept["id"])) == 1 and history(api, lost["id"]) == []
    # Then the next tick (the shard readable again) takes the one left behind
    monkeypatch.setattr(store, "due_page", real)
    clock.now = T0 + timedelta(seconds=90)
    tick(app_module, clock)
    run_executions(app_module)
    assert len(history(api, lost["id"])) == 1
