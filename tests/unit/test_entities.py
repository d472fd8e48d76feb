"""Entities, their mapping to records, and their rendering: each field declared once per layer."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.api import schemas
from chalicelib.api.api_keys import api_key_json
from chalicelib.api.recovery import dead_letter_json, job_json
from chalicelib.api.schedules import execution_json, schedule_json
from chalicelib.api.webhooks import delivery_json, webhook_json
from chalicelib.domain.connections import Connection
from chalicelib.domain.dead_letters import DeadLetter
from chalicelib.domain.jobs import RetryJob
from chalicelib.domain.keys import ApiKey
from chalicelib.domain.retry import decide
from chalicelib.domain.schedule import Execution, Schedule
from chalicelib.domain.webhooks import Delivery, Endpoint
from chalicelib.store.mapping import entity_of, fields_of, stored_value

T = "2026-11-30T10:00:00.000Z"
ENDPOINT = Endpoint(
    id="whk_1",
    url="https://example.test/hook",
    event_types=("a.b",),
    enabled=False,
    max_attempts=3,
    secret="whsec_x",
    version=2,
    created_at=T,
    updated_at=T,
    retry_schedule=(60, 600),
    rate_limit=5,
)
DELIVERY = Delivery(
    id="dlv_1",
    webhook_id="whk_1",
    event_id="evt_1",
    event_type="a.b",
    payload='{"id":"evt_1"}',
    status="failed",
    max_attempts=3,
    created_at=T,
    updated_at=T,
    expires_at=1,
    attempts=({"number": 1},),
    attempt_count=1,
)
JOB = RetryJob(
    id="rty_1",
    status="scheduled",
    service="s",
    target={"type": "http"},
    error={"type": "E"},
    policy={"max_attempts": 3},
    created_at=T,
    updated_at=T,
)
SCHEDULE = Schedule(
    id="sch_1",
    name="n",
    expression="rate(5 minutes)",
    timezone="UTC",
    overlap_policy="skip",
    catchup="latest",
    catchup_window_seconds=3600,
    enabled=True,
    target={"type": "http"},
    retry_policy={},
    version=1,
    anchor=T,
    created_at=T,
    updated_at=T,
    tags=("x",),
)
EXECUTION = Execution(
    schedule_id="sch_1",
    sort_key=f"{T}#exe_1",
    id="exe_1",
    scheduled_for=T,
    trigger="manual",
    status="pending",
    created_at=T,
    expires_at=1,
)
DEAD = DeadLetter(
    id="dlq_1",
    status="open",
    source="retry_job",
    service="s",
    fingerprint="f",
    error={"type": "E"},
    payload={"target": {"type": "http"}},
    created_at=T,
)
KEY = ApiKey(id="key_1", key_hash="h", name="n", role="viewer", created_at=T)
SOCKET = Connection(id="A=", endpoint="https://x/api", connected_at=T, expires_at=9, patterns=("a.*",))


@pytest.mark.parametrize(
    "entity",
    [ENDPOINT, DELIVERY, JOB, SCHEDULE, EXECUTION, DEAD, KEY, SOCKET],
    ids=lambda e: type(e).__name__,
)
def test_an_entity_survives_the_trip_through_a_records_types(entity: Any) -> None:
    # Given the entity as a record stores it (bools as "true"/"false", lists, Decimals-as-floats)
    record = SimpleNamespace(
        **{
            k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
            for k, v in fields_of(entity).items()
        }
    )
    # Then reading it back gives the same entity, in Python's types
    assert entity_of(type(entity), record) == entity
    assert fields_of(ENDPOINT)["enabled"] == "false" and stored_value(True) == "true"


def test_absent_attributes_take_the_entitys_defaults() -> None:
    record = SimpleNamespace(
        **{
            k: v
            for k, v in fields_of(DELIVERY).items()
            if k not in ("attempts", "attempt_count", "lease_until")
        }
    )
    assert entity_of(Delivery, record).attempts == () and entity_of(Delivery, record).attempt_count == 0


@pytest.mark.parametrize(
    ("render", "model"),
    [
        (lambda: webhook_json(ENDPOINT), "Webhook"),
        (lambda: delivery_json(DELIVERY), "Delivery"),
        (lambda: delivery_json(DELIVERY, with_attempts=False), "DeliverySummary"),
        (lambda: job_json(JOB), "RetryJob"),
        (lambda: job_json(JOB, with_attempts=False), "RetryJobSummary"),
        (lambda: schedule_json(SCHEDULE), "Schedule"),
        (lambda: execution_json(EXECUTION), "Execution"),
        (lambda: dead_letter_json(DEAD), "DeadLetter"),
        (lambda: api_key_json(KEY), "ApiKey"),
    ],
)
def test_each_rendering_shows_exactly_its_response_models_fields(render: Any, model: str) -> None:
    assert set(render()) == set(getattr(schemas, model).model_fields)


def test_rendering_keeps_secrets_out() -> None:
    assert "secret" not in webhook_json(ENDPOINT) and "key_hash" not in api_key_json(KEY)


def test_the_webhook_schedule_is_a_retry_policy() -> None:
    # Given an endpoint with its own two delays, and a delivery allowed 3 attempts
    policy = ENDPOINT.retry_policy(3)
    now = datetime(2026, 11, 30, 10, tzinfo=UTC)
    # Then each retry waits its delay +-20 %, and the third failure gives up
    low = decide(policy, 1, "HTTP500", now, now, lambda: 0.0)
    high = decide(policy, 2, "HTTP500", now, now, lambda: 1.0)
    assert (low.retry, low.delay_seconds) == (True, 48.0)
    assert (high.retry, high.delay_seconds) == (True, 720.0)
    assert decide(policy, 3, "HTTP500", now, now, lambda: 0.5).reason == "exhausted"
    # And a receiver's Retry-After waits longer, never shorter
    assert decide(policy, 1, "HTTP429", now, now, lambda: 0.5, None, 3600.0).delay_seconds == 3600
