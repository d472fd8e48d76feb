"""The in-memory store twins keep their DynamoDB stores' contract: one set of assertions runs
against both, so a service test on a twin tests what production does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain.webhooks import Delivery, Endpoint
from chalicelib.errors import Conflict, NotFound
from chalicelib.store.memory import MemoryDeliveryStore, MemoryWebhookStore


@pytest.fixture(params=["dynamodb", "memory"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        yield MemoryWebhookStore(), MemoryDeliveryStore()
        return
    aws = request.getfixturevalue("aws")
    assert aws
    from chalicelib.store.webhooks import DeliveryStore, WebhookStore

    yield WebhookStore(), DeliveryStore()


def endpoint(n: int, **fields: Any) -> Endpoint:
    values: dict[str, Any] = {
        "id": f"whk_{n:026d}",
        "url": "http://127.0.0.1:9/hook",
        "event_types": ("a.b", "c.*"),
        "enabled": True,
        "max_attempts": 3,
        "secret": "whsec_AAAA",
        "version": 1,
        "created_at": f"2026-11-30T10:00:0{n}Z",
        "updated_at": "2026-11-30T10:00:00Z",
        "headers": {"X-Team": "one"},
        "retry_schedule": (60, 600),
    }
    return Endpoint(**{**values, **fields})


def delivery(n: int, **fields: Any) -> Delivery:
    values: dict[str, Any] = {
        "id": f"dlv_{n:026d}",
        "webhook_id": endpoint(1).id,
        "event_id": f"evt_{n}",
        "event_type": "a.b",
        "payload": "{}",
        "status": "pending",
        "max_attempts": 3,
        "created_at": f"2026-11-30T10:00:0{n}Z",
        "updated_at": "2026-11-30T10:00:00Z",
        "expires_at": 2_000_000_000,
    }
    return Delivery(**{**values, **fields})


def test_endpoints_round_trip_conflict_on_a_stale_version_and_page(stores: Any) -> None:
    # Given three endpoints
    webhooks, _ = stores
    for n in (1, 2, 3):
        webhooks.save(endpoint(n), None, [])
    # Then each reads back as it was written, in the entity's types
    assert webhooks.get(endpoint(2).id) == endpoint(2)
    assert webhooks.get("whk_missing") is None
    # And creating one twice, or replacing at a stale version, conflicts
    with pytest.raises(Conflict):
        webhooks.save(endpoint(1), None, [])
    webhooks.save(endpoint(1, version=2, enabled=False), 1, ["a.b", "c.*"])
    with pytest.raises(Conflict):
        webhooks.save(endpoint(1, version=3), 1, ["a.b", "c.*"])
    assert webhooks.get(endpoint(1).id).enabled is False
    # And subscriptions follow the event types; pages are newest first
    assert [e.id for e in webhooks.get_many({endpoint(n).id for n in (3, 1, 2)} | {"whk_x"})] == [
        endpoint(n).id for n in (1, 2, 3)
    ]
    first, position = webhooks.list(2, None)
    rest, end = webhooks.list(2, position)
    assert [e.id for e in first + rest] == [endpoint(n).id for n in (3, 2, 1)] and end is None
    # And field updates, failure streaks and deletes behave the same
    webhooks.update_fields(endpoint(2).id, enabled=False, disabled_reason="gone")
    assert webhooks.get(endpoint(2).id).disabled_reason == "gone"
    assert webhooks.get(endpoint(2).id).enabled is False
    assert [webhooks.add_failure(endpoint(3).id) for _ in range(2)] == [1, 2]
    assert webhooks.add_failure("whk_missing") == 0
    webhooks.delete(endpoint(3))
    with pytest.raises(NotFound):
        webhooks.delete(endpoint(3))


def test_deliveries_claim_once_record_skip_reopen_and_filter(stores: Any) -> None:
    _, deliveries = stores
    # Given a delivery made twice (the event arrived twice)
    made, new = deliveries.create_once(delivery(1))
    again, new_again = deliveries.create_once(delivery(1, payload='{"other":1}'))
    assert (new, new_again) == (True, False) and again == made == delivery(1)
    # When attempt 1 is claimed: only once, and an expired claim is taken over
    assert deliveries.claim(made.id, 1, 1000, 120, "tok") is not None
    assert deliveries.claim(made.id, 1, 1000, 120, "tok") is None
    assert deliveries.claim(made.id, 3, 1000, 120, "tok") is None  # not next
    assert deliveries.claim(made.id, 1, 1121, 120, "tok") is not None
    # Then recording the attempt ends the lease; a stale record (attempt 2) is ignored
    deliveries.record_attempt(made, {"number": 1}, "failed", "t1", dead_letter_id="dlq_1")
    deliveries.record_attempt(made, {"number": 2}, "delivered", "t2")
    stored = deliveries.get(made.id)
    assert (stored.status, stored.attempts, stored.lease_until, stored.dead_letter_id) == (
        "failed",
        ({"number": 1},),
        None,
        "dlq_1",
    )
    # And a finished delivery reopens with more attempts; a pending one refuses
    deliveries.reopen(stored, 3, "2026-11-30T08:03:00.000Z")
    assert (deliveries.get(made.id).status, deliveries.get(made.id).max_attempts) == ("pending", 4)
    with pytest.raises(Conflict):
        deliveries.reopen(deliveries.get(made.id), 3, "2026-11-30T08:04:00.000Z")
    # And a claimed attempt is given back (rate limit), or kept as skipped (endpoint disabled)
    # And a claim answers the delivery as it is now, even to a worker holding an old copy
    # (whose next attempt must not write over the attempts recorded since it read)
    third, _ = deliveries.create_once(delivery(3, event_type="x.y"))
    claimed = deliveries.claim(third.id, 1, 2000, 120, "tok")
    deliveries.record_attempt(claimed, {"number": 1}, "pending", "t1")
    assert deliveries.claim(third.id, 2, 2000, 120, "tok").attempts == ({"number": 1},)
    second, _ = deliveries.create_once(delivery(2, event_type="c.d"))
    held = deliveries.claim(second.id, 1, 3000, 120, "tok")
    deliveries.release(held, 1)
    assert (deliveries.get(second.id).attempt_count, deliveries.get(second.id).lease_until) == (0, None)
    deliveries.release(held, 1, skipped_reason="disabled")  # not ours any more: no change
    assert deliveries.get(second.id).status == "pending"
    held = deliveries.claim(second.id, 1, 3000, 120, "tok")
    deliveries.release(held, 1, skipped_reason="disabled")
    assert deliveries.get(second.id).status == "skipped"
    held = deliveries.claim(made.id, 2, 3000, 120, "tok")  # the reopened delivery's next attempt
    deliveries.release(held, 2, skipped_reason="disabled")
    # And lists filter within the endpoint's deliveries, newest first
    items, _ = deliveries.list(endpoint(1).id, "skipped", None, 10, None)
    assert [d.id for d in items] == [second.id, made.id]
    items, _ = deliveries.list(endpoint(1).id, None, "c.d", 10, None)
    assert [d.id for d in items] == [second.id]
    since = [d.id for d in deliveries.failed_since(endpoint(1).id, "2026-11-30T10:00:02Z", 10)]
    assert since == [second.id]


def test_a_retry_job_keeps_every_attempt_whatever_copy_its_worker_held(aws: Any) -> None:
    from chalicelib.domain.jobs import RetryJob
    from chalicelib.store.retry_jobs import RetryJobStore

    jobs = RetryJobStore()
    job = RetryJob(
        id="rty_1",
        status="scheduled",
        service="s",
        target={},
        error={},
        policy={},
        created_at="2026-11-30T08:00:00.000Z",
        updated_at="t",
    )
    jobs.create(job)
    # Given attempt 1 claimed and recorded while another worker still holds the job as created
    first = jobs.claim(job.id, 1, 1000, 120, "t1", job.service, "tok")
    assert first is not None and jobs.claim(job.id, 1, 1000, 120, "t1", job.service, "tok") is None
    assert jobs.finish_attempt(first, {"number": 1}, "scheduled", "t2")
    # When that worker claims attempt 2 with its old copy and records it
    second = jobs.claim(job.id, 2, 1001, 120, "t3", job.service, "tok")
    assert second is not None and second.attempt_count == 1
    assert jobs.finish_attempt(job, {"number": 2}, "succeeded", "t4")
    # Then both attempts are kept (each is an item of its own: no copy of a list to go stale)
    assert [a["number"] for a in jobs.attempts(jobs.get("rty_1"), 0, None)[0]] == [1, 2]
    assert jobs.get("rty_1").attempts == ()  # the job's own item holds none
