"""Batch routes run their items 10 at a time, answer in the items' order, and share the
request's outbox."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib import outbox
from chalicelib.api.batch import run_batch
from chalicelib.errors import NotFound

IDS = [f"sch_{i:026d}" for i in range(20)]


def test_items_run_at_once_and_answer_in_order() -> None:
    # Given an action that two items must reach together (it would wait forever, one at a time)
    together = threading.Barrier(2, timeout=5)
    box_seen: list[Any] = []

    def action(item: Any) -> str:
        if item.id in IDS[:2]:
            together.wait()
        if item.id == IDS[5]:
            raise NotFound(f"No schedule {item.id}.")
        box_seen.append(outbox.current())
        return item.id

    # When a batch of 20 (and one invalid item) runs inside a request's outbox
    with outbox.collecting() as box:
        answer = run_batch([{"id": i} for i in IDS] + [{"id": 7}], "ScheduleRef", action)
    # Then each item has its own result, in the items' order
    assert [r["index"] for r in answer["results"]] == list(range(21))
    assert answer["succeeded"] == 19 and answer["failed"] == 2
    assert answer["results"][5]["error"]["code"] == "not_found"
    assert answer["results"][20]["error"]["code"] == "validation_error"
    # And every item ran with the request's outbox (their events are written with it)
    assert box_seen and all(seen is box for seen in box_seen)
