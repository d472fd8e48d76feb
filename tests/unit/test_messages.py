"""The queue messages: typed, and the same JSON the queues carried before (in-flight messages
survive a deploy)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain.messages import (
    DeliveryAttempt,
    MalformedMessage,
    RetryAttempt,
    ScheduledRun,
    decode,
    encode,
)

AT = datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)


def test_each_message_reads_back_what_it_wrote() -> None:
    for message in (
        RetryAttempt("rty_1", 2, AT),
        RetryAttempt("rty_1", 1, AT, missing_checks=2),
        DeliveryAttempt("dlv_1", 3, AT),
        ScheduledRun("sch_1", "2026-11-30#exe_1"),
    ):
        assert decode(type(message), encode(message)) == message


def test_the_json_is_what_the_queues_always_carried() -> None:
    # bodies written by the code before typed messages
    assert decode(
        RetryAttempt, '{"job_id": "rty_1", "attempt": 2, "run_at": "2026-11-30T09:00:05.000Z"}'
    ) == RetryAttempt("rty_1", 2, AT)
    assert json.loads(encode(DeliveryAttempt("dlv_1", 1, AT))) == {
        "delivery_id": "dlv_1",
        "attempt": 1,
        "run_at": "2026-11-30T09:00:05.000Z",
    }
    assert json.loads(encode(ScheduledRun("sch_1", "k"))) == {"schedule_id": "sch_1", "sort_key": "k"}
    assert "missing_checks" not in encode(RetryAttempt("rty_1", 1, AT))


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        "{}",
        "not json",
        '{"job_id": "rty_1"}',
        '{"job_id": "r", "attempt": "x", "run_at": "2026-11-30"}',
        '{"job_id": "r", "attempt": 1, "run_at": "yesterday"}',
    ],
)
def test_anything_else_is_malformed(body: str) -> None:
    with pytest.raises(MalformedMessage):
        decode(RetryAttempt, body)


def test_batches_keep_order_within_ten_entries_and_240_kb() -> None:
    from chalicelib.store.queues import _batches

    small = [{"MessageBody": "x" * 10} for _ in range(23)]
    assert [len(g) for g in _batches(small)] == [10, 10, 3]
    big = [{"MessageBody": "y" * 64 * 1024} for _ in range(5)]  # events may be 64 KB each
    assert [len(g) for g in _batches(big)] == [3, 2]
    assert [e for g in _batches(small) for e in g] == small
