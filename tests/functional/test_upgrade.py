"""Upgrading: items written before an index or filtered list existed are found after the backfill
(``make backfill STAGE=...``), and running it again adds nothing twice."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalicelib.domain.timeutil import to_iso
from chalicelib.store import models
from chalicelib.store.backfill import backfill
from chalicelib.store.base import bind
from tests.conftest import Api, Clock


def body(response: Any) -> Any:
    return json.loads(response.body)


def test_items_from_before_the_indexes_are_listed_after_the_backfill(api: Api, clock: Clock) -> None:
    # Given items as the previous version wrote them: no index keys, no list pointers
    AT = to_iso(clock.now - timedelta(days=1))
    bind(models.EventRecord, "events")(
        day=AT[:10],
        sort_key=f"{AT}#evt_01OLD0000000000000000000AA",
        id="evt_01OLD0000000000000000000AA",
        type="custom.old",
        timestamp=AT,
        data={},
        expires_at=2_000_000_000,
    ).save()
    hook = body(api.post("/v2/webhooks", {"url": "http://127.0.0.1:9/hook", "event_types": ["custom.*"]}))
    bind(models.DeadLetterRecord, "dead_letters")(
        id="dlq_01OLD0000000000000000000AA",
        status="open",
        source="sqs:old",
        service="ledger",
        fingerprint="00000000000000cc",
        created_at=AT,
        created_sk=f"{AT}#dlq_old",
        error={},
        payload={},
    ).save()
    bind(models.ScheduleRecord, "schedules")(
        id="sch_01OLD0000000000000000000AA",
        name="old",
        expression="rate(1 day)",
        timezone="UTC",
        overlap_policy="skip",
        catchup="skip",
        catchup_window_seconds=60,
        enabled="true",
        target={"type": "http", "url": "http://127.0.0.1:9/"},
        retry_policy={},
        tags=["legacy"],
        version=1,
        anchor=AT,
        created_at=AT,
        created_sk=f"{AT}#sch_old",
        updated_at=AT,
    ).save()
    bind(models.RetryJobRecord, "retry_jobs")(
        id="rty_01OLD0000000000000000000AA",
        status="dead_lettered",
        service="ledger",
        created_at=AT,
        created_sk=f"{AT}#rty_old",
        updated_at=AT,
        target={},
        error={},
        policy={},
    ).save()
    bind(models.DeliveryRecord, "deliveries")(
        id="dlv_01OLD0000000000000000000AA",
        webhook_id=hook["id"],
        event_id="evt_old",
        event_type="custom.old",
        payload="{}",
        status="failed",
        max_attempts=3,
        created_at=AT,
        created_sk=f"{AT}#dlv_old",
        updated_at=AT,
        expires_at=2_000_000_000,
    ).save()

    def timeline() -> set[str]:
        return {e["id"] for e in body(api.get("/v2/events?limit=100"))["items"]}

    assert "evt_01OLD0000000000000000000AA" not in timeline()
    bind(models.ExecutionRecord, "executions")(
        schedule_id="sch_01OLD0000000000000000000AA",
        sort_key=f"{AT}#exe_old",
        id="exe_old",
        scheduled_for=AT,
        trigger="scheduled",
        status="succeeded",
        created_at=AT,
        expires_at=2_000_000_000,
    ).save()
    lists_before = [
        "/v2/schedules/sch_01OLD0000000000000000000AA/history",
        "/v2/dlq?source=sqs:old",
        "/v2/schedules?tag=legacy",
        "/v2/errors/retry?service=ledger&status=dead_lettered",
        f"/v2/webhooks/{hook['id']}/deliveries?status=failed",
    ]
    assert all(body(api.get(path))["items"] == [] for path in lists_before)
    # When the backfill runs (twice: it is idempotent)
    added = backfill()
    assert added["lists.dead_letters"] == 7 and added["lists.schedules"] == 3
    assert added["retry_jobs.service_status"] == 1 and added["deliveries.webhook_status"] == 1
    assert added["events.month"] >= 1 and added["executions.live_sk"] == 1
    assert added["schedules.expression_words"] >= 1
    again = backfill()
    assert again["retry_jobs.service_status"] == again["deliveries.webhook_status"] == 0
    assert again["schedules.expression_words"] == 0
    # and the old schedule reads in words, as one written now does
    old = body(api.get("/v2/schedules/sch_01OLD0000000000000000000AA"))
    assert old["expression_words"] == "Every day"
    # Then the timeline and each filtered list find their old item
    assert "evt_01OLD0000000000000000000AA" in timeline()
    for path in lists_before:
        assert len(body(api.get(path))["items"]) == 1, path


def test_subscribers_are_found_before_the_sets_are_built_and_by_one_read_after(
    api: Api, clock: Clock
) -> None:
    from chalicelib import deps
    from chalicelib.domain.events import make_event
    from tests.functional.aws_calls import count_calls

    # Given an endpoint subscribed as the previous version did it: its item, no set, and a
    # stage whose sets were never marked complete
    subscriptions = bind(models.SubscriptionRecord, "subscriptions")
    hook = body(api.post("/v2/webhooks", {"url": "http://127.0.0.1:9/hook", "event_types": ["custom.*"]}))
    subscriptions(pattern="custom.*", subscriber="#all").delete()
    subscriptions(pattern="#meta", subscriber="pattern-sets").delete()
    event = make_event("custom.old", {}, clock.now)
    # When an event is fanned out, Then the endpoint is found by its pattern's items
    with count_calls() as calls:
        assert deps.fan_out().publish(event)[0] == 1
    assert calls["Query"] == 3  # custom.old, custom.*, *
    # And once the backfill built the sets, by one read of them
    backfill()
    with count_calls() as calls:
        assert deps.fan_out().publish(make_event("custom.old", {}, clock.now))[0] == 1
    assert calls["Query"] == 0 and calls["BatchGetItem"] == 2
    # And a pattern whose set outgrew its item is read by its items again
    subscriptions(pattern="custom.*", subscriber="#all").update(
        actions=[models.SubscriptionRecord.overflow.set(True)]
    )
    with count_calls() as calls:
        assert deps.fan_out().publish(make_event("custom.old", {}, clock.now))[0] == 1
    assert calls["Query"] == 1
    assert hook["id"]


def test_work_in_flight_from_before_the_due_index_is_watched_after_the_backfill(
    api: Api, clock: Clock
) -> None:
    from chalicelib import deps

    # The services' clock stands a minute behind the wall clock, as a loaded machine leaves it
    # (the lease the backfill gives a running run must come from the services' clock)
    clock.now -= timedelta(minutes=1)
    # Given a scheduled retry job, a pending delivery and a running run as the previous version
    # wrote them (no due time: the reconciler cannot see them)
    AT = to_iso(clock.now - timedelta(hours=1))
    bind(models.RetryJobRecord, "retry_jobs")(
        id="rty_01OLD0000000000000000000BB",
        status="scheduled",
        service="ledger",
        created_at=AT,
        created_sk=f"{AT}#rty_old",
        updated_at=AT,
        target={},
        error={},
        policy={},
        next_attempt_at=AT,
    ).save()
    bind(models.DeliveryRecord, "deliveries")(
        id="dlv_01OLD0000000000000000000BB",
        webhook_id="whk_old",
        event_id="evt_old",
        event_type="custom.old",
        payload="{}",
        status="pending",
        max_attempts=3,
        created_at=AT,
        created_sk=f"{AT}#dlv_old",
        updated_at=AT,
        expires_at=2_000_000_000,
    ).save()
    bind(models.ExecutionRecord, "executions")(
        schedule_id="sch_old",
        sort_key=f"{AT}#exe_old",
        id="exe_old",
        scheduled_for=AT,
        trigger="scheduled",
        status="running",
        created_at=AT,
        expires_at=2_000_000_000,
    ).save()
    assert deps.reconciler().run() == {"retry_job": 0, "delivery": 0, "run": 0, "event": 0}
    # When the backfill runs (twice: it adds nothing the second time)
    added = backfill(clock.now)
    assert (added["retry_jobs.due_at"], added["deliveries.due_at"], added["executions.due_at"]) == (1, 1, 1)
    assert backfill(clock.now)["retry_jobs.due_at"] == 0
    # Then, once overdue, the reconciler puts each back on its way
    clock.now += timedelta(seconds=deps.reconciler().grace + 1)
    assert deps.reconciler().run() == {"retry_job": 1, "delivery": 1, "run": 1, "event": 0}
