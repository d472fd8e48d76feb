"""Nothing lost, nothing stuck: Conductor behind the fault proxy (``devserver/faults.py``).

Each test runs Conductor's handlers in this process against moto's server through the proxy,
which injects what AWS sometimes does: throttles, 500s, resets, latency and lost answers (the
call applied, its answer never arriving, the SDK sending it again). The test's own view (the
event source mapping's receives, the assertions' reads) goes straight to moto.

Every loop is bounded in count; nothing waits for a fixed time.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import deps
from chalicelib.domain.timeutil import parse_iso
from devserver.lambdas import context_for, scheduled_event, sqs_event
from tests.conftest import Api, Clock
from tests.faulty import ARN, PREFIX, Faulty, faulty_aws, json_body
from tests.functional.receivers import Receiver, receiver

FAST = {"strategy": "fixed", "initial_delay_seconds": 0, "jitter": "none", "max_attempts": 4}


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Faulty, Api, Clock]]:
    """Conductor behind the fault proxy, an operator's API, and the services' clock."""
    from chalice.test import Client

    import app as app_module
    from chalicelib.services.api_keys import ApiKeyService
    from chalicelib.store.api_keys import ApiKeyStore

    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(deps, "clock", clock)
    with faulty_aws() as world, Client(app_module.app) as client:
        key = ApiKeyService(ApiKeyStore()).create("faults", "operator")[1]
        yield world, Api(client, key), clock


@pytest.fixture
def app_module() -> Any:
    import app

    return app


@pytest.fixture
def target() -> Iterator[Receiver]:
    with receiver([(200, {})]) as state:
        yield state


def tick(app_module: Any, clock: Clock) -> None:
    app_module.scheduler_tick(
        scheduled_event("arn:aws:events:us-east-1:1:rule/tick", "us-east-1", clock.now),
        context_for("scheduler_tick"),
    )


def settle(world: Faulty, app_module: Any, clock: Clock, rounds: int = 4) -> None:
    """Drain every queue; then, past the grace period, let the reconciler repair what is overdue
    and drain again (bounded)."""
    for _ in range(rounds):
        world.pump(app_module)
        clock.now += timedelta(seconds=deps.reconciler().grace + 1)
        tick(app_module, clock)
        if not world.visible():
            break
    world.pump(app_module)


def job_status(api: Api, job_id: str) -> dict[str, Any]:
    return json_body(api.get(f"/v2/errors/retry/{job_id}"))


def new_job(api: Api, url: str, **extra: Any) -> Any:
    return api.post(
        "/v2/errors/retry",
        {
            "service": "payments",
            "target": {"type": "http", "method": "POST", "url": url},
            "error": {"type": "HTTP503", "message": "down"},
            "retry_policy": FAST,
            **extra,
        },
    )


def events_of(event_type: str) -> list[Any]:
    return deps.event_bus().list(100, event_type=event_type).events


# --- one targeted lost answer at a time --------------------------------------------------------


def test_a_lost_answer_on_a_deliverys_claim_still_delivers_it_once(
    faulty: tuple[Faulty, Api, Clock], app_module: Any, target: Receiver
) -> None:
    world, api, clock = faulty
    endpoints = [
        json_body(api.post("/v2/webhooks", {"url": target.url, "event_types": ["custom.*"]}))
        for _ in range(3)
    ]
    for n in range(3):
        assert api.post("/v2/events", {"type": "custom.paid", "data": {"n": n}}).status_code == 201
    world.drive(app_module, "fan_out_events", "events")
    # Given the answer of every delivery's claim (a conditional UpdateItem) lost
    rule = world.plan.add("lost", operation="UpdateItem", resource="deliveries", times=9)
    # When the deliveries are handled (and whatever follows, past the grace period)
    settle(world, app_module, clock)
    # Then each of the 9 was delivered, once (the issue measured 9 pending, 0 sent)
    assert rule.hits >= 9
    for endpoint in endpoints:
        listed = json_body(api.get(f"/v2/webhooks/{endpoint['id']}/deliveries"))["items"]
        assert sorted(d["status"] for d in listed) == ["delivered"] * 3
    assert len(target.requests) == 9
    assert len({r["headers"]["webhook-id"] for r in target.requests}) == 9


def test_a_lost_answer_on_a_runs_claim_and_slot_still_runs_and_frees_the_schedule(
    faulty: tuple[Faulty, Api, Clock], app_module: Any, target: Receiver
) -> None:
    world, api, _ = faulty
    created = json_body(
        api.post(
            "/v2/schedules",
            {
                "name": "n",
                "expression": "cron(0 9 * * ? *)",
                "overlap_policy": "skip",
                "target": {"type": "http", "method": "POST", "url": target.url},
            },
        )
    )
    runs = []
    for operation_rule in (
        {"resource": "executions"},  # the run's claim (pending -> running)
        {"resource": "schedules", "nth": 1},  # its overlap slot
        {"resource": "schedules", "nth": 2},
    ):  # the slot's release when it ends
        # Given one lost answer on the step
        rule = world.plan.add("lost", operation="UpdateItem", **operation_rule)
        # When the schedule is run by hand and the run handled
        runs.append(json_body(api.post(f"/v2/schedules/{created['id']}/execute")))
        world.pump(app_module)
        assert rule.hits == 1
    # Then every run succeeded (none stuck running, none skipped behind a slot never freed)
    history = json_body(api.get(f"/v2/schedules/{created['id']}/history"))["items"]
    assert sorted(r["status"] for r in history) == ["succeeded"] * 3
    assert json_body(api.get(f"/v2/schedules/{created['id']}"))["counters"]["running"] == 0
    assert len(target.requests) == 3


def test_a_lost_answer_on_a_dispatch_still_runs_the_run_once(
    faulty: tuple[Faulty, Api, Clock], app_module: Any, target: Receiver
) -> None:
    world, api, clock = faulty
    created = json_body(
        api.post(
            "/v2/schedules",
            {
                "name": "every minute",
                "expression": "rate(1 minute)",
                "target": {"type": "http", "method": "POST", "url": target.url},
            },
        )
    )
    # Given the answer of the dispatch's one write (claim the run, advance the schedule) lost:
    # the SDK's retry finds the schedule moved on, by itself
    rule = world.plan.add("lost", operation="TransactWriteItems", resource="schedules")
    clock.now = parse_iso(created["next_runs"][0]) + timedelta(seconds=1)
    # When the tick finds it due and a dispatch worker fires it
    tick(app_module, clock)
    world.pump(app_module)
    assert rule.hits == 1
    # Then the worker knew the claim for its own (its message's token) and sent the run once
    [run] = json_body(api.get(f"/v2/schedules/{created['id']}/history"))["items"]
    assert run["status"] == "succeeded" and len(target.requests) == 1
    # and the same tick delivered again (EventBridge: at least once) fires nothing more
    tick(app_module, clock)
    world.pump(app_module)
    assert len(target.requests) == 1
    assert len(json_body(api.get(f"/v2/schedules/{created['id']}/history"))["items"]) == 1


def test_a_lost_answer_on_handing_over_a_job_answers_201_and_runs_it(
    faulty: tuple[Faulty, Api, Clock], app_module: Any, target: Receiver
) -> None:
    world, api, clock = faulty
    answers = []
    for key in ("order-1", None):
        # Given the answer of the job's TransactWriteItems lost (moto, unlike DynamoDB, ignores
        # its ClientRequestToken: the SDK's retry meets its own writes)
        rule = world.plan.add("lost", operation="TransactWriteItems", resource="retry-jobs")
        # When a failed operation is handed over, with and without an idempotency key
        extra = {"idempotency_key": key} if key else {}
        response = new_job(api, target.url, **extra)
        assert rule.hits == 1
        # Then it is accepted as new (the issue measured 200 "used before" and a job never run)
        assert response.status_code == 201, response.body
        answers.append(json_body(response))
    settle(world, app_module, clock)
    for job in answers:
        assert job_status(api, job["id"])["status"] == "succeeded"
    assert len(target.requests) == 2
    # the key still answers its job
    again = new_job(api, target.url, idempotency_key="order-1")
    assert again.status_code == 200 and json_body(again)["id"] == answers[0]["id"]


def test_lost_answers_on_an_attempts_claim_record_and_messages_count_it_once(
    faulty: tuple[Faulty, Api, Clock], app_module: Any
) -> None:
    world, api, clock = faulty
    with receiver([(503, {}), (200, {})]) as flaky:
        job = json_body(new_job(api, flaky.url))
        # Given lost answers on the first attempt's claim, on recording attempts (a
        # transaction) and on sending the next attempt's message
        world.plan.add("lost", operation="UpdateItem", resource="retry-jobs")
        world.plan.add("lost", operation="TransactWriteItems", resource="retry-jobs", times=2)
        world.plan.add("lost", operation="SendMessage", resource="retries")
        settle(world, app_module, clock)
        # Then the job succeeded on its second attempt, each attempt sent once and recorded once
        done = job_status(api, job["id"])
        assert done["status"] == "succeeded" and done["attempt_count"] == 2
        assert len(flaky.requests) == 2
    assert [e.data["retry_job_id"] for e in events_of("error.succeeded")] == [job["id"]]
    assert [a["number"] for a in json_body(api.get(f"/v2/errors/retry/{job['id']}/attempts"))["items"]] == [
        1,
        2,
    ]


def test_messages_that_never_reach_sqs_are_sent_by_the_reconciler(
    faulty: tuple[Faulty, Api, Clock], app_module: Any, target: Receiver
) -> None:
    world, api, clock = faulty
    endpoint = json_body(api.post("/v2/webhooks", {"url": target.url, "event_types": ["custom.*"]}))
    assert api.post("/v2/events", {"type": "custom.paid", "data": {}}).status_code == 201
    # Given every SDK attempt (the first and 3 retries) of the next sends to the deliveries and
    # retries queues failing
    world.plan.add("error", operation="SendMessage", resource="webhook-deliveries", times=4)
    world.plan.add("error", operation="SendMessage", resource="retries", times=4)
    world.drive(app_module, "fan_out_events", "events")
    response = new_job(api, target.url)
    assert response.status_code == 201  # accepted: written, and due
    job = json_body(response)
    world.pump(app_module)
    assert target.requests == []  # nothing could run: no message
    # When the reconciler runs past the grace period
    settle(world, app_module, clock)
    # Then both were put back on their way, and ran
    assert job_status(api, job["id"])["status"] == "succeeded"
    listed = json_body(api.get(f"/v2/webhooks/{endpoint['id']}/deliveries"))["items"]
    assert [d["status"] for d in listed] == ["delivered"]
    assert len(target.requests) == 2
    recovered = Counter(e.data["kind"] for e in events_of("system.work_recovered"))
    # the delivery and the job, once each (an event still queued when a tick came may be sent
    # again too: its fan-out finds it done)
    assert recovered["delivery"] == 1 and recovered["retry_job"] == 1


def test_a_poison_message_fails_alone(
    faulty: tuple[Faulty, Api, Clock], app_module: Any, target: Receiver
) -> None:
    world, api, _ = faulty
    json_body(api.post("/v2/webhooks", {"url": target.url, "event_types": ["custom.*"]}))
    world.drive(app_module, "fan_out_events", "events")  # the endpoint's own event
    for n in range(9):
        assert api.post("/v2/events", {"type": "custom.paid", "data": {"n": n}}).status_code == 201
    sqs = world.direct("sqs")
    url = world.queue_url("events")
    sqs.send_message(QueueUrl=url, MessageBody="{not an event")
    # When a batch of 10 with one malformed message is handled
    messages: list[dict[str, Any]] = []
    for _ in range(5):  # bounded: moto hands out up to 10 a receive
        messages += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if len(messages) == 10:
            break
    assert len(messages) == 10
    answer = app_module.fan_out_events(
        sqs_event(messages, ARN + PREFIX + "events", "us-east-1"), context_for("fan_out_events")
    )
    # Then only it is named as failed; the 9 events reach their endpoint once each
    poison = [m["MessageId"] for m in messages if m["Body"] == "{not an event"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": poison[0]}]}
    for message in messages:
        if message["MessageId"] not in poison:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    world.pump(app_module)  # its later receives fail too, until SQS moves it (maxReceiveCount)
    world.drive(app_module, "drain_events_dlq", "events-dlq")
    assert len(target.requests) == 9
    assert len({json.loads(r["body"])["data"]["n"] for r in target.requests}) == 9
    letters = json_body(api.get("/v2/dlq"))["items"]
    assert [(e["source"], e["payload"]["body"]) for e in letters] == [
        ("sqs:conductor-test-events", "{not an event")
    ]


# --- random faults over a mixed workload --------------------------------------------------------


def mixed_workload(
    world: Faulty, api: Api, app_module: Any, clock: Clock, rate: float, seed: int
) -> dict[str, Any]:
    """Retry jobs to a flaky receiver, events to three endpoints, schedule runs and a batch
    hand-over, under ``rate`` random faults; then faults off, everything settled. Answers what
    was accepted, the receivers' hits and every API answer's status."""
    world.plan.seed = seed
    world.plan.latency = (0.01, 0.1)  # latency faults, short enough for a test
    statuses: Counter[int] = Counter()

    def call(method: str, path: str, body: Any = None, tries: int = 6) -> Any:
        """A client that retries what failed for a moment (503) with the same idempotency key."""
        response = None
        for _ in range(tries):
            response = api.request(method, path, body=body)
            statuses[response.status_code] += 1
            if response.status_code != 503:
                return response
        return response

    with receiver([(503, {}), (200, {})]) as flaky, receiver([(200, {})]) as hooks:
        endpoints = [
            json_body(call("POST", "/v2/webhooks", {"url": hooks.url, "event_types": ["custom.*"]}))["id"]
            for _ in range(2)
        ]
        schedule = json_body(
            call(
                "POST",
                "/v2/schedules",
                {
                    "name": "mixed",
                    "expression": "cron(0 9 * * ? *)",
                    "target": {"type": "http", "method": "POST", "url": hooks.url},
                },
            )
        )["id"]
        world.plan.set_rate(rate)
        jobs, events, runs = [], [], []
        for n in range(6):
            answer = call(
                "POST",
                "/v2/errors/retry",
                {
                    "service": "payments",
                    "target": {"type": "http", "method": "POST", "url": f"{flaky.url}/job/{n}"},
                    "error": {"type": "HTTP503"},
                    "retry_policy": FAST,
                    "idempotency_key": f"job-{n}",
                },
            )
            if answer.status_code in (200, 201):
                jobs.append(json_body(answer)["id"])
            published = call("POST", "/v2/events", {"type": "custom.paid", "data": {"n": n}}, tries=1)
            if published.status_code == 201:
                events.append(json_body(published)["id"])
            if n % 3 == 0:
                run = call("POST", f"/v2/schedules/{schedule}/execute", tries=1)
                if run.status_code in (200, 201, 202):
                    runs.append(json_body(run)["id"])
            if n % 2 == 1:
                world.pump(app_module, rounds=2)
        items = [
            {
                "service": "batch",
                "target": {"type": "http", "method": "POST", "url": f"{flaky.url}/batch/{i}"},
                "error": {"type": "HTTP503"},
                "retry_policy": FAST,
                "idempotency_key": f"b-{i}",
            }
            for i in range(3)
        ]
        batched: dict[int, str] = {}
        for _ in range(6):  # a client sends the batch again (same keys) for items that failed
            answer = call("POST", "/v2/batch/errors/retry", {"items": items})
            if answer.status_code == 200:
                batched.update(
                    (r["index"], r["id"]) for r in json_body(answer)["results"] if r["status"] == "ok"
                )
            if len(batched) == len(items):
                break
        assert len(set(batched.values())) == len(batched)  # a key made one job, however often
        jobs += list(batched.values())
        for _ in range(3):
            world.pump(app_module, rounds=3)
            clock.now += timedelta(seconds=30)
            tick(app_module, clock)
        world.plan.set_rate(0)
        settle(world, app_module, clock, rounds=6)
        return {
            "jobs": jobs,
            "events": events,
            "runs": runs,
            "endpoints": endpoints,
            "schedule": schedule,
            "flaky": list(flaky.requests),
            "hooks": list(hooks.requests),
            "statuses": statuses,
        }


#: (rate, seed) of the random-fault runs; `make chaos` (CONDUCTOR_CHAOS=1) adds 1 % and more seeds
RANDOM_RUNS = [(0.05, 5), (0.20, 20)] + (
    [(0.01, 1), (0.05, 51), (0.20, 201), (0.20, 202)] if os.environ.get("CONDUCTOR_CHAOS") else []
)


@pytest.mark.timeout(600)  # the SDK's own backoff between retries is most of it
@pytest.mark.parametrize(("rate", "seed"), RANDOM_RUNS)
def test_random_faults_lose_nothing_and_leave_nothing_stuck(
    faulty: tuple[Faulty, Api, Clock], app_module: Any, rate: float, seed: int
) -> None:
    world, api, clock = faulty
    seen = mixed_workload(world, api, app_module, clock, rate, seed)
    assert sum(world.plan.injected[k] for k in ("throttle", "error", "reset", "lost", "latency")) > 0
    # no answer was a 500: only 503s a client retries
    assert not {s for s in seen["statuses"] if s >= 500 and s != 503}, seen["statuses"]
    # every accepted job reached its end, each attempt sent once: the receiver's hits on a
    # job's own path are the attempts it recorded (its first hit of all is a 503)
    hits = Counter(r["path"] for r in seen["flaky"])
    for job_id in set(seen["jobs"]):
        job = job_status(api, job_id)
        assert job["status"] == "succeeded", job
        path = "/" + job["target"]["url"].split("/", 3)[3]
        assert hits[path] == job["attempt_count"], (job_id, hits[path], job["attempt_count"])
    assert sum(hits.values()) == len(set(seen["jobs"])) + 1
    # the success of each counted once
    assert len(events_of("error.succeeded")) == len(set(seen["jobs"]))
    # every acknowledged event reached each endpoint (delivered, none pending); one answered
    # 503 may have been written all the same (an answer lost is not a failure) and is then
    # delivered too: a 5xx means "unknown", never "not done"
    for endpoint in seen["endpoints"]:
        listed = json_body(api.get(f"/v2/webhooks/{endpoint}/deliveries?limit=100"))["items"]
        assert set(seen["events"]) <= {d["event_id"] for d in listed}
        assert all(d["status"] == "delivered" for d in listed), listed
    webhook_ids = Counter(
        r["headers"].get("webhook-id") for r in seen["hooks"] if "webhook-id" in r["headers"]
    )
    assert all(n == 1 for n in webhook_ids.values())
    # every run ended (none running or pending)
    history = json_body(api.get(f"/v2/schedules/{seen['schedule']}/history"))["items"]
    assert {r["id"] for r in history} >= set(seen["runs"])
    assert all(r["status"] in ("succeeded", "skipped") for r in history), history
    assert json_body(api.get(f"/v2/schedules/{seen['schedule']}"))["counters"]["running"] == 0
