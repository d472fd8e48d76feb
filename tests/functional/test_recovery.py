"""The retry engine, breakers and dead letters through the API and the SQS handlers, under moto,
against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws as factory
from chalicelib import deps
from chalicelib.domain.breaker import BreakerSettings
from chalicelib.services.breakers import BreakerService
from chalicelib.store.breakers import BreakerStore
from devserver.lambdas import context_for, sqs_event
from tests.conftest import Api, Clock
from tests.functional.aws_calls import count_calls
from tests.functional.helpers import ARN, FAST, delete, new_job, receive, run_attempts, tick
from tests.functional.receivers import Receiver


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


def events_of(kind: str) -> list[dict[str, Any]]:
    return [e.to_dict() for e in deps.event_bus().list(200, event_type=kind).events]


def test_fails_twice_then_succeeds_with_every_attempt_recorded(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given a target that fails twice, then recovers
    target.set_script([(500, {}), (500, {}), (200, {})])
    job = new_job(api, target.url)
    assert job["status"] == "scheduled" and job["attempts"] == []
    # When the attempts run from SQS
    run_attempts(app_module)
    # Then the job succeeded on its third attempt, each attempt recorded
    done = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert done["status"] == "succeeded" and done["attempt_count"] == 3
    assert [a["status_code"] for a in done["attempts"]] == [500, 500, 200]
    assert [a["outcome"] for a in done["attempts"]] == ["failed", "failed", "succeeded"]
    assert done["attempts"][0]["error_type"] == "HTTP500"
    assert done["attempts"][0]["next_delay_seconds"] == 0
    assert len(target.requests) == 3
    assert json.loads(target.requests[0]["body"]) == {"order": 1}
    assert len(events_of("error.retry")) == 3 and len(events_of("error.succeeded")) == 1
    stats = body(api.get("/v2/errors/stats"))
    assert stats["counts"]["succeeded"] == 1 and stats["success_rate"] == 1.0
    assert stats["services"]["payments"]["mean_attempts_to_success"] == 3


def test_always_failing_ends_in_the_dlq_and_replay_succeeds_once_it_recovers(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    target.set_script([(502, {})])
    job = new_job(api, target.url)
    run_attempts(app_module)
    dead = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert dead["status"] == "dead_lettered" and len(dead["attempts"]) == 3
    entry = body(api.get(f"/v2/dlq/{dead['dead_letter_id']}"))
    assert entry["status"] == "open" and entry["retry_job_id"] == job["id"]
    assert entry["error"]["type"] == "HTTP502" and entry["error"]["reason"] == "exhausted"
    listed = body(api.get("/v2/dlq"))["items"]
    assert [e["id"] for e in listed] == [entry["id"]]
    group = body(api.get(f"/v2/dlq?fingerprint={entry['fingerprint']}"))["items"]
    assert [e["id"] for e in group] == [entry["id"]]
    # When the target recovers and the dead letter is replayed
    target.set_script([(200, {})])
    replay = api.post(f"/v2/dlq/{entry['id']}/replay")
    assert replay.status_code == 201
    new = body(replay)
    assert new["replay_of"] == entry["id"]
    run_attempts(app_module)
    assert body(api.get(f"/v2/errors/retry/{new['id']}"))["status"] == "succeeded"
    replayed = body(api.get(f"/v2/dlq/{entry['id']}"))
    assert replayed["status"] == "replayed" and replayed["replay_job_id"] == new["id"]
    assert api.post(f"/v2/dlq/{entry['id']}/replay").status_code == 409  # once only


def test_a_duplicate_delivery_does_not_run_an_attempt_twice(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    job = new_job(api, target.url)
    [messages] = receive("conductor-test-retries")
    event = sqs_event(messages, ARN + "conductor-test-retries", "us-east-1")
    app_module.run_retry_attempts(event, context_for("x"))
    app_module.run_retry_attempts(event, context_for("x"))  # SQS delivered it again
    assert len(target.requests) == 1
    assert body(api.get(f"/v2/errors/retry/{job['id']}"))["attempt_count"] == 1


def test_idempotency_key_returns_the_first_job(api: Api, clock: Clock, target: Receiver) -> None:
    first = api.post(
        "/v2/errors/retry",
        {
            "service": "s",
            "target": {"type": "http", "url": target.url},
            "error": {"type": "E"},
            "idempotency_key": "order-7",
        },
    )
    again = api.post(
        "/v2/errors/retry",
        {
            "service": "s",
            "target": {"type": "http", "url": target.url},
            "error": {"type": "E"},
            "idempotency_key": "order-7",
        },
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert body(first)["id"] == body(again)["id"]
    assert len(body(api.get("/v2/errors/retry?service=s"))["items"]) == 1


def test_accepting_a_failed_operation_costs_four_calls(api: Api, clock: Clock, target: Receiver) -> None:
    request = {
        "service": "s",
        "target": {"type": "http", "url": target.url},
        "error": {"type": "E"},
        "idempotency_key": "order-8",
    }
    # Given a warm container (its key cached, its queue URLs known)
    api.post("/v2/errors/retry", {**request, "idempotency_key": "warm-up"})
    receive("conductor-test-events")  # the warm-up's event, out of the way
    # When a failed operation is handed over with an idempotency key
    with count_calls() as calls:
        created = api.post("/v2/errors/retry", request)
    # Then the key, the job and its event were written in one transaction: with the request's
    # rate-limit bucket and the two messages (its first attempt, its event), four calls
    assert created.status_code == 201
    assert calls["TransactWriteItems"] == 1 and calls["SendMessage"] == 2
    assert calls["UpdateItem"] == 1 and sum(calls.values()) == 4, calls
    [event] = [
        e
        for e in deps.event_bus().list(10, event_type="error.created").events
        if e.data["retry_job_id"] == body(created)["id"]
    ]
    sent = [json.loads(m["Body"])["id"] for batch in receive("conductor-test-events") for m in batch]
    assert event.id in sent


def test_a_job_whose_attempt_cannot_be_queued_is_kept_and_sent_by_the_reconciler(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.errors import DependencyUnavailable

    request = {
        "service": "s",
        "target": {"type": "http", "url": target.url},
        "error": {"type": "E"},
        "idempotency_key": "order-9",
        "retry_policy": {"initial_delay_seconds": 0, "jitter": "none"},
    }
    queue = deps.retries().engine.queue

    def down(*_: Any, **__: Any) -> None:
        raise DependencyUnavailable("The retries queue could not be reached.")

    # Given a retries queue that cannot be reached
    monkeypatch.setattr(queue, "send", down)
    # When a failed operation is handed over, Then it is accepted (the job is written, and due)
    created = api.post("/v2/errors/retry", request)
    assert created.status_code == 201
    job = body(created)
    assert receive("conductor-test-retries") == []  # no message made it
    monkeypatch.delattr(queue, "send")  # the queue is back (the clock stays the test's)
    # the same key answers the same job
    assert body(api.post("/v2/errors/retry", request))["id"] == job["id"]
    # When the tick runs before the grace period, nothing is repaired; after it, the job's
    # first attempt is sent, runs and succeeds
    tick(app_module, clock)
    assert receive("conductor-test-retries") == []
    clock.now += timedelta(seconds=deps.reconciler().grace + 1)
    tick(app_module, clock)
    run_attempts(app_module)
    assert body(api.get(f"/v2/errors/retry/{job['id']}"))["status"] == "succeeded"
    assert len(target.requests) == 1
    # the job's first attempt, once (events this test never fans out are recovered too)
    recovered = [
        e.data
        for e in deps.event_bus().list(20, event_type="system.work_recovered").events
        if e.data["kind"] == "retry_job"
    ]
    assert [(r["id"], r["attempt"]) for r in recovered] == [(job["id"], 1)]


def test_a_rare_status_of_a_busy_service_is_listed_with_one_query(api: Api, clock: Clock) -> None:
    from chalicelib.domain.jobs import RetryJob
    from chalicelib.store.retry_jobs import RetryJobStore

    # Given a service with 120 scheduled jobs and one dead-lettered one among them
    store = RetryJobStore()
    for i in range(121):
        at = f"2026-11-30T08:{i // 60:02d}:{i % 60:02d}.000Z"
        store.create(
            RetryJob(
                id=f"rty_{i:026d}",
                status="dead_lettered" if i == 7 else "scheduled",
                service="busy",
                target={},
                error={},
                policy={},
                created_at=at,
                updated_at=at,
            )
        )
    # When its dead-lettered jobs are listed
    with count_calls() as calls:
        page = body(api.get("/v2/errors/retry?service=busy&status=dead_lettered&limit=5"))
    # Then one Query of that service's status partition found it
    assert [j["id"] for j in page["items"]] == [f"rty_{7:026d}"]
    assert calls["Query"] == 1


def test_a_job_claimed_from_an_older_message_keeps_its_service_and_status_key(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from chalicelib.domain.messages import RetryAttempt, encode

    # Given a job whose attempt message was sent before messages named the service
    target.set_script([(503, {})])
    job = new_job(api, target.url)
    [[message]] = receive("conductor-test-retries")
    assert json.loads(message["Body"])["service"] == "payments"
    old = {**message, "Body": encode(RetryAttempt(job["id"], 1, clock.now))}
    # When it runs (and fails), Then its listing by service and status follows each change
    app_module.run_retry_attempts(
        sqs_event([old], ARN + "conductor-test-retries", "us-east-1"), context_for("x")
    )
    listed = body(api.get("/v2/errors/retry?service=payments&status=scheduled"))["items"]
    assert [j["id"] for j in listed] == [job["id"]] and listed[0]["attempt_count"] == 1
    assert (
        deps.retries().jobs.claim(job["id"], 2, int(clock.now.timestamp()) + 3600, 60, "t", None, "tok")
        is not None
    )
    running = body(api.get("/v2/errors/retry?service=payments&status=running"))["items"]
    assert [j["id"] for j in running] == [job["id"]]
    assert body(api.get("/v2/errors/retry?service=payments&status=scheduled"))["items"] == []


def test_dead_letters_of_a_rare_source_service_or_group_are_listed_in_two_calls(
    api: Api, clock: Clock
) -> None:
    from chalicelib.domain.dead_letters import DeadLetter
    from chalicelib.store.dead_letters import DeadLetterStore

    # Given 120 open dead letters of one source and service, and one of another of each
    store = DeadLetterStore()
    for i in range(121):
        rare = i == 40
        store.put_once(
            DeadLetter(
                id=f"dlq_{i:026d}",
                status="open",
                source="sqs:rare" if rare else "retry_job",
                service="ledger" if rare else "payments",
                fingerprint="00000000000000aa" if rare else "00000000000000bb",
                error={},
                payload={},
                created_at=f"2026-11-30T08:{i // 60:02d}:{i % 60:02d}.000Z",
            )
        )
    # When each filter (and two together) asks for the rare one
    for query in (
        "source=sqs:rare",
        "service=ledger",
        "fingerprint=00000000000000aa",
        "source=sqs:rare&service=ledger",
    ):
        with count_calls() as calls:
            page = body(api.get(f"/v2/dlq?{query}&limit=5"))
        # Then one Query of its list and one BatchGetItem found it, nothing else was read
        assert [e["id"] for e in page["items"]] == [f"dlq_{40:026d}"], query
        assert calls["Query"] == 1 and calls["BatchGetItem"] == 1, (query, calls)
    # And resolving it moves it from the open lists to the resolved ones, in one transaction
    with count_calls() as calls:
        assert api.post(f"/v2/dlq/dlq_{40:026d}/resolve", {"note": "n"}).status_code == 200
    assert calls["TransactWriteItems"] == 1
    assert body(api.get("/v2/dlq?source=sqs:rare"))["items"] == []
    [resolved] = body(api.get("/v2/dlq?source=sqs:rare&status=resolved"))["items"]
    assert resolved["note"] == "n"
    # and a long list pages newest first, each page a Query and a BatchGetItem
    first = body(api.get("/v2/dlq?service=payments&limit=100"))
    rest = body(api.get(f"/v2/dlq?service=payments&limit=100&cursor={first['next_cursor']}"))
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert len(ids) == 120 == len(set(ids)) and ids == sorted(ids, reverse=True)


def test_a_job_item_stays_the_same_size_however_many_attempts_it_makes(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from chalicelib import aws
    from chalicelib.config import get_settings

    def item_bytes(job_id: str) -> int:
        item = aws.client("dynamodb").get_item(
            TableName=get_settings().tables["retry_jobs"], Key={"id": {"S": job_id}}
        )["Item"]
        return len(json.dumps(item))

    # Given a job whose target answers 503 with a 1 KB body, 9 attempts allowed (fewer than
    # its breaker's minimum calls: none is held)
    target.set_script([(503, {"detail": "x" * 1000})])
    job = new_job(api, target.url, retry_policy={**FAST, "max_attempts": 9})
    run_attempts(app_module, rounds=1)
    after_one = item_bytes(job["id"])
    # When it makes all 9
    run_attempts(app_module, rounds=15)
    shown = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert shown["status"] == "dead_lettered" and len(shown["attempts"]) == 9
    # Then its own item grew by its final fields only, not by the attempts (each is its own item)
    assert item_bytes(job["id"]) - after_one < 400
    # and the attempts page in order
    page = body(api.get(f"/v2/errors/retry/{job['id']}/attempts?limit=5"))
    rest = body(api.get(f"/v2/errors/retry/{job['id']}/attempts?limit=10&cursor={page['next_cursor']}"))
    assert [a["number"] for a in page["items"] + rest["items"]] == list(range(1, 10))
    assert rest["next_cursor"] is None


def test_attempts_of_a_job_written_before_they_had_items_of_their_own_are_shown(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    from chalicelib.store import models
    from chalicelib.store.base import bind

    # Given a job as the previous version kept it: its first attempt inside its own item
    target.set_script([(503, {}), (200, {})])
    job = new_job(api, target.url)
    run_attempts(app_module, rounds=1)
    record = bind(models.RetryJobRecord, "retry_jobs").get(job["id"])
    first = body(api.get(f"/v2/errors/retry/{job['id']}"))["attempts"][0]
    record.update(actions=[models.RetryJobRecord.attempts.set([first])])
    bind(models.AttemptRecord, "attempts")(owner=job["id"], number=1).delete()
    # When its next attempt is recorded the new way
    run_attempts(app_module)
    # Then both show, in order
    shown = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert shown["status"] == "succeeded"
    assert [a["status_code"] for a in shown["attempts"]] == [503, 200]


def test_non_retryable_errors_go_straight_to_the_dlq(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    at_once = new_job(
        api,
        target.url,
        error={"type": "ValidationError", "message": "bad"},
        retry_policy={**FAST, "non_retryable": ["ValidationError", "HTTP400"]},
    )
    assert at_once["status"] == "dead_lettered" and at_once["dead_letter_id"]
    target.set_script([(400, {})])
    after_one = new_job(api, target.url, retry_policy={**FAST, "non_retryable": ["HTTP400"]})
    run_attempts(app_module)
    job = body(api.get(f"/v2/errors/retry/{after_one['id']}"))
    assert job["status"] == "dead_lettered" and job["attempt_count"] == 1
    assert body(api.get(f"/v2/dlq/{job['dead_letter_id']}"))["error"]["reason"] == "non_retryable"


def test_retry_after_is_honoured(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    target.set_script([(429, {"Retry-After": "120"}), (200, {})])
    job = new_job(api, target.url)
    run_attempts(app_module)
    waiting = body(api.get(f"/v2/errors/retry/{job['id']}"))
    assert waiting["status"] == "scheduled" and waiting["attempt_count"] == 1
    assert waiting["attempts"][0]["retry_after"] == 120
    assert waiting["attempts"][0]["next_delay_seconds"] == 120
    next_at = datetime.fromisoformat(waiting["next_attempt_at"].replace("Z", "+00:00"))
    assert next_at == clock.now + timedelta(seconds=120)
    assert receive("conductor-test-retries") == []  # SQS holds the next attempt back


def test_waits_longer_than_15_minutes_travel_in_hops(api: Api, clock: Clock, target: Receiver) -> None:
    job = new_job(api, target.url)
    receive("conductor-test-retries")  # the first attempt's message is in flight now
    run_at = clock.now + timedelta(hours=1)
    message = json.dumps(
        {"job_id": job["id"], "attempt": 1, "run_at": run_at.isoformat().replace("+00:00", "Z")}
    )
    assert deps.retries().process(message) == "hop"
    sqs = factory.client("sqs")
    url = sqs.get_queue_url(QueueName="conductor-test-retries")["QueueUrl"]
    delayed = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])[
        "Attributes"
    ]["ApproximateNumberOfMessagesDelayed"]
    assert delayed == "1"  # re-sent with the 900 s maximum; the attempt did not run
    assert target.requests == []


def test_resolving_cancels_pending_attempts(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    job = new_job(api, target.url)
    resolved = api.post("/v2/errors/resolve", {"id": job["id"], "note": "fixed by hand"})
    assert resolved.status_code == 200 and body(resolved)["status"] == "resolved"
    run_attempts(app_module)
    assert target.requests == []
    assert body(api.get(f"/v2/errors/retry/{job['id']}"))["note"] == "fixed by hand"
    assert api.post("/v2/errors/resolve", {"id": job["id"]}).status_code == 409


def test_an_open_breaker_defers_attempts_without_using_them(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a breaker that opens after 2 failed calls and waits 30 s
    settings = {
        "default": BreakerSettings(minimum_calls=2, window_size=4, open_seconds=30, half_open_trials=1)
    }
    service = BreakerService(
        BreakerStore(), settings, lambda t, d: deps.event_bus().publish(t, d), clock=clock
    )
    monkeypatch.setattr(deps.retries(), "breakers", service)
    target.set_script([(500, {}), (500, {}), (200, {})])
    first = new_job(api, target.url, retry_policy={**FAST, "max_attempts": 1})
    second = new_job(api, target.url, retry_policy={**FAST, "max_attempts": 1})
    run_attempts(app_module, rounds=1)
    assert body(api.get("/v2/errors/circuit-breaker/payments"))["state"] == "open"
    assert {body(api.get(f"/v2/errors/retry/{j['id']}"))["status"] for j in (first, second)} == {
        "dead_lettered"
    }
    # When a third job's attempt comes while the breaker is open
    third = new_job(api, target.url)
    run_attempts(app_module, rounds=1)
    deferred = body(api.get(f"/v2/errors/retry/{third['id']}"))
    assert deferred["status"] == "scheduled" and deferred["attempt_count"] == 0
    assert len(target.requests) == 2  # the call was never made
    # Then after the wait the trial call closes the breaker
    clock.now += timedelta(seconds=30)
    assert (
        deps.retries().process(
            json.dumps({"job_id": third["id"], "attempt": 1, "run_at": deferred["next_attempt_at"]})
        )
        == "succeeded"
    )
    assert body(api.get("/v2/errors/circuit-breaker/payments"))["state"] == "closed"
    kinds = [e.type for e in deps.event_bus().list(200).events]
    # (the clock stands still, so same-instant events have no order to check)
    assert sorted(k for k in kinds if k.startswith("circuit.")) == [
        "circuit.closed",
        "circuit.half_opened",
        "circuit.opened",
    ]


def test_two_concurrent_breaker_updates_never_lose_a_transition(clock: Clock) -> None:
    settings = {"default": BreakerSettings(minimum_calls=2, window_size=10)}
    published: list[str] = []

    class Interleaving(BreakerStore):
        """Lets the other container write between our read and our write, once."""

        interfered = False

        def replace(self, service: str, new: Any, expected_version: int, updated_at: str) -> bool:
            if not self.interfered:
                self.interfered = True
                other.record("svc", failed=True)
            return super().replace(service, new, expected_version, updated_at)

    other = BreakerService(BreakerStore(), settings, lambda t, d: published.append(t), clock=clock)
    mine = BreakerService(Interleaving(), settings, lambda t, d: published.append(t), clock=clock)
    state = mine.record("svc", failed=True)
    # both failures counted: the second write re-read and re-applied, and the breaker opened once
    assert state.state == "open"
    assert published == ["circuit.opened"]


def test_a_crash_mid_batch_loses_no_job(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [new_job(api, target.url) for _ in range(8)]
    runner = deps.retries().runner
    real_run = runner.run
    calls = {"n": 0}

    def crash_on_fourth(job_target: dict[str, Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("the Lambda died here")
        return real_run(job_target)

    monkeypatch.setattr(runner, "run", crash_on_fourth)
    [messages] = receive("conductor-test-retries")
    assert len(messages) == 8
    event = sqs_event(messages, ARN + "conductor-test-retries", "us-east-1")
    answer = app_module.run_retry_attempts(event, context_for("x"))
    # only the crashed record is handed back (batchItemFailures); the other 7 ran once
    assert answer == {"batchItemFailures": [{"itemIdentifier": messages[3]["MessageId"]}]}
    assert len(target.requests) == 7
    # SQS redelivers it after the visibility timeout (360 s > the 120 s lease: taken over)
    clock.now += timedelta(seconds=361)
    again = sqs_event([messages[3]], ARN + "conductor-test-retries", "us-east-1")
    assert app_module.run_retry_attempts(again, context_for("x")) == {"batchItemFailures": []}
    delete("conductor-test-retries", messages)
    run_attempts(app_module)
    statuses = [body(api.get(f"/v2/errors/retry/{j['id']}"))["status"] for j in jobs]
    assert statuses.count("succeeded") + statuses.count("dead_lettered") == 8
    assert statuses.count("succeeded") == 8
    assert len(target.requests) == 8  # the crashed attempt never reached the target


def test_sqs_dlq_messages_are_recorded_once(api: Api, app_module: Any, clock: Clock) -> None:
    sqs = factory.client("sqs")
    url = sqs.get_queue_url(QueueName="conductor-test-events-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"poison": true}')
    [messages] = receive("conductor-test-events-dlq")
    event = sqs_event(messages, ARN + "conductor-test-events-dlq", "us-east-1")
    app_module.drain_events_dlq(event, context_for("x"))
    app_module.drain_events_dlq(event, context_for("x"))  # delivered twice
    items = body(api.get("/v2/dlq?source=sqs:conductor-test-events"))["items"]
    assert len(items) == 1
    assert items[0]["payload"]["body"] == {"poison": True}
    assert items[0]["error"]["type"] == "MaxReceiveCountExceeded"
    resolved = api.post(f"/v2/dlq/{items[0]['id']}/resolve", {"note": "known bad message"})
    assert body(resolved)["status"] == "resolved"
    assert body(api.get("/v2/dlq?status=resolved"))["items"][0]["note"] == "known bad message"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"target": {"type": "http", "url": "ftp://x"}}, "target.http.url"),
        ({"target": {"type": "carrier-pigeon"}}, "target"),
        ({"retry_policy": {"max_attempts": 0}}, "retry_policy.max_attempts"),
        ({"retry_policy": {"strategy": "random"}}, "retry_policy.strategy"),
        ({"service": "bad service!"}, "service"),
        ({"error": {}}, "error.type"),
    ],
)
def test_bad_retry_requests(api: Api, clock: Clock, patch: dict[str, Any], field: str) -> None:
    request = {
        "service": "s",
        "target": {"type": "http", "url": "http://127.0.0.1:1/x"},
        "error": {"type": "E"},
        **patch,
    }
    response = api.post("/v2/errors/retry", request)
    assert response.status_code == 400
    assert field in {d["field"] for d in body(response)["error"]["details"]}, body(response)


def test_batches_answer_each_item(api: Api, clock: Clock, target: Receiver) -> None:
    good = {"service": "s", "target": {"type": "http", "url": target.url}, "error": {"type": "E"}}
    response = api.post("/v2/batch/errors/retry", {"items": [good, {"service": "s"}, good]})
    assert response.status_code == 200
    result = body(response)
    assert (result["succeeded"], result["failed"]) == (2, 1)
    assert [r["status"] for r in result["results"]] == ["ok", "error", "ok"]
    assert result["results"][1]["error"]["code"] == "validation_error"
    ids = [r["id"] for r in result["results"] if r["status"] == "ok"]
    resolved = body(
        api.post(
            "/v2/batch/errors/resolve", {"items": [{"id": ids[0]}, {"id": "rty_01M8KGG0H1398KT48NHQHKJ2H4"}]}
        )
    )
    assert [r["status"] for r in resolved["results"]] == ["ok", "error"]
    assert resolved["results"][1]["error"]["code"] == "not_found"
    too_many = api.post("/v2/batch/errors/retry", {"items": [good] * 101})
    assert too_many.status_code == 400
    assert api.post("/v2/batch/dlq/resolve", {"items": []}).status_code == 400
    assert len(body(api.get("/v2/errors/retry?service=s&limit=200"))["items"]) == 2


def test_breaker_endpoints_and_roles(api: Api, keys: dict[str, str], clock: Clock) -> None:
    forced = api.post("/v2/errors/circuit-breaker/billing", {"action": "force_open"})
    assert forced.status_code == 200 and body(forced)["state"] == "forced_open"
    listed = body(api.get("/v2/errors/circuit-breakers"))["items"]
    assert [b["service"] for b in listed] == ["billing"]
    assert (
        api.post("/v2/errors/circuit-breaker/billing", {"action": "reset"}, key=keys["viewer"]).status_code
        == 403
    )
    assert api.post("/v2/errors/circuit-breaker/billing", {"action": "explode"}).status_code == 400
    reset = body(api.post("/v2/errors/circuit-breaker/billing", {"action": "reset"}))
    assert reset["state"] == "closed"
    fresh = body(api.get("/v2/errors/circuit-breaker/never-seen"))
    assert fresh["state"] == "closed" and fresh["window"]["size"] == 0


def test_aws_calls_per_attempt(api: Api, app_module: Any, clock: Clock, target: Receiver) -> None:
    new_job(api, target.url)
    [messages] = receive("conductor-test-retries")
    with count_calls() as calls:
        app_module.run_retry_attempts(
            sqs_event(messages, ARN + "conductor-test-retries", "us-east-1"), context_for("x")
        )
    assert calls["Scan"] == 0
    # job get + claim + breaker reads (2) and, while its window fills, a write + finish +
    # 2 events (PutItem + SendMessage each) + the success counted in 3 windows (minute/hour/day)
    assert sum(calls.values()) <= 13, calls


def test_a_batch_of_attempts_writes_its_events_together(
    api: Api, app_module: Any, clock: Clock, target: Receiver
) -> None:
    # Given 10 jobs whose attempts are due, queued as one SQS batch
    jobs = [new_job(api, target.url)["id"] for _ in range(10)]
    batches = receive("conductor-test-retries")
    messages = [m for batch in batches for m in batch][:10]
    assert len(messages) == 10
    # When the batch runs through the handler
    with count_calls() as calls:
        app_module.run_retry_attempts(
            sqs_event(messages, ARN + "conductor-test-retries", "us-east-1"),
            context_for("run_retry_attempts"),
        )
    delete("conductor-test-retries", messages)
    # Then its 20 events (error.retry and error.succeeded of each) were written together:
    # one BatchWriteItem and two SendMessageBatch, not 20 PutItem and 20 SendMessage
    assert calls["BatchWriteItem"] == 1 and calls["SendMessageBatch"] == 2
    assert calls["PutItem"] <= 10  # the breaker's window (one per attempt), no event
    succeeded = deps.event_bus().list(50, event_type="error.succeeded").events
    assert {e.data["retry_job_id"] for e in succeeded} == set(jobs)
    assert len(deps.event_bus().list(50, event_type="error.retry").events) == 10


def test_events_of_finished_work_are_written_when_a_later_record_fails(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two due attempts, the second of which meets a failing table
    first, second = new_job(api, target.url)["id"], new_job(api, target.url)["id"]
    messages = [m for batch in receive("conductor-test-retries") for m in batch]
    real = deps.retries().process
    calls = {"n": 0}

    def flaky(body: str) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            from chalicelib.errors import DependencyUnavailable

            raise DependencyUnavailable("the retry jobs table could not be reached")
        return real(body)

    monkeypatch.setattr(deps.retries(), "process", flaky)
    # When the batch's second record fails (SQS will hand that one over again)
    answer = app_module.run_retry_attempts(
        sqs_event(messages, ARN + "conductor-test-retries", "us-east-1"), context_for("run_retry_attempts")
    )
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [messages[1]["MessageId"]]
    # Then the first job's events are written all the same
    done = {e.data["retry_job_id"] for e in deps.event_bus().list(50, event_type="error.succeeded").events}
    assert first in done and second not in done


def test_the_next_attempt_arriving_before_the_last_is_recorded_is_not_lost(
    api: Api, app_module: Any, clock: Clock, target: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.messages import RetryAttempt, encode

    # Given a job whose attempt 2 message arrives while attempt 1 is still being recorded: its
    # claim fails (the job is still running), and attempt 1 is recorded before the job is read
    job = new_job(api, target.url)
    delete("conductor-test-retries", [m for b in receive("conductor-test-retries") for m in b])
    jobs = deps.retries().jobs
    first = jobs.claim(job["id"], 1, int(clock.now.timestamp()), 120, "t", "payments", "tok")
    real_claim = jobs.claim

    def claim_while_running(*args: Any) -> Any:
        jobs.finish_attempt(first, {"number": 1}, "scheduled", "t")  # recorded just after
        monkeypatch.setattr(jobs, "claim", real_claim)
        return None

    monkeypatch.setattr(jobs, "claim", claim_while_running)
    # When attempt 2's message is handled
    outcome = deps.retries().process(encode(RetryAttempt(job["id"], 2, clock.now)))
    # Then it is sent again shortly (not dropped as a duplicate), and then runs
    assert outcome == "requeued"
    [again] = [json.loads(m["Body"]) for b in receive("conductor-test-retries") for m in b]
    assert again["attempt"] == 2
    assert deps.retries().process(encode(RetryAttempt(job["id"], 2, clock.now))) == "succeeded"
