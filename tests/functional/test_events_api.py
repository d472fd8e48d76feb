"""/v2/events through the Chalice test client against moto: publish, timeline, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws as factory
from chalicelib import deps
from chalicelib.services.events import EventBus
from chalicelib.store.events import EventStore
from tests.conftest import Api, Clock, queue_messages
from tests.functional.aws_calls import count_calls

JSON = {"Content-Type": "application/json"}


def post(api: Api, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post(path, raw, headers=headers or JSON)


def body(response: Any) -> Any:
    return json.loads(response.body)


@pytest.fixture
def clock(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    """An event bus whose clock the test moves."""
    clock = Clock(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    bus = EventBus(EventStore(), factory.client("sqs"), lambda: deps.queue_url("events"), 30, clock)
    monkeypatch.setattr(deps, "event_bus", lambda: bus)
    return clock


def test_publish_records_the_event_and_queues_it(api: Api) -> None:
    # Given a custom event, When it is posted
    response = post(api, "/v2/events", {"type": "custom.order_shipped", "data": {"order": 7}})
    # Then it is answered with the envelope, recorded in the timeline and queued for fan-out
    assert response.status_code == 201
    event = body(response)
    assert event["type"] == "custom.order_shipped" and event["data"] == {"order": 7}
    assert event["id"].startswith("evt_") and event["timestamp"].endswith("Z")
    assert response.headers["Location"] == f"/v2/events/{event['id']}"
    assert body(api.get(f"/v2/events/{event['id']}")) == event
    messages = queue_messages("conductor-test-events")
    assert [json.loads(m["Body"]) for m in messages] == [event]
    assert messages[0]["MessageAttributes"]["event_type"]["StringValue"] == "custom.order_shipped"


def test_every_response_carries_request_id_and_version(api: Api) -> None:
    given = api.get("/v2/events/types", headers={"X-Request-Id": "req-123"})
    assert given.headers["X-Request-Id"] == "req-123"
    assert given.headers["API-Version"] == "2"
    made = api.get("/v2/events/types", headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["X-Request-Id"]) == 32


def test_event_types_lists_the_catalog(api: Api) -> None:
    catalog = body(api.get("/v2/events/types"))
    assert catalog["categories"] == ["errors", "schedules", "webhooks", "system"]
    assert {
        "type": "schedule.executed",
        "category": "schedules",
        "description": "A schedule run succeeded.",
    } in catalog["items"]


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code", "field"),
    [
        (b"{not json", JSON, 400, "validation_error", "body"),
        (b"", JSON, 400, "validation_error", "body"),
        (b"[1, 2]", JSON, 400, "validation_error", "body"),
        (b'{"type": "schedule.executed"}', JSON, 400, "validation_error", "type"),
        (b'{"type": "custom.x", "data": [1]}', JSON, 400, "validation_error", "data"),
        (b'{"type": "custom.x", "extra": 1}', JSON, 400, "validation_error", "extra"),
        (b'{"type": "custom.x"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type", None),
        (
            b'{"type": "custom.x", "data": {"x": "' + b"a" * 300_000 + b'"}}',
            JSON,
            413,
            "payload_too_large",
            None,
        ),
    ],
)
def test_bad_publish_requests_get_the_error_shape(
    api: Api, raw: bytes, headers: dict[str, str], status: int, code: str, field: str | None
) -> None:
    response = post(api, "/v2/events", raw, headers)
    assert response.status_code == status
    error = body(response)["error"]
    assert error["code"] == code and error["message"]
    assert isinstance(error["details"], list)
    if field:
        assert field in {d["field"] for d in error["details"]}
    assert queue_messages("conductor-test-events") == []  # nothing half-published


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v2/nothing", 404, "not_found"),
        ("/v2/nothing/deeper/still", 404, "not_found"),
        ("/v2/events/evt_01M8KGG0H1398KT48NHQHKJ2H4", 404, "not_found"),
        ("/v2/events/not-an-id", 404, "not_found"),
        ("/v2/events?limit=0", 400, "validation_error"),
        ("/v2/events?limit=201", 400, "validation_error"),
        ("/v2/events?limit=ten", 400, "validation_error"),
        ("/v2/events?from=yesterday", 400, "validation_error"),
        ("/v2/events?type=no.such", 400, "validation_error"),
        ("/v2/events?colour=red", 400, "validation_error"),
        ("/v2/events?cursor=abc.def", 400, "validation_error"),
        ("/v2/events?from=2026-11-29T12:00:00Z&to=2026-11-28T12:00:00Z", 400, "validation_error"),
    ],
)
def test_bad_reads_get_the_error_shape(api: Api, clock: Clock, path: str, status: int, code: str) -> None:
    response = api.get(path)
    assert response.status_code == status, response.body
    assert body(response)["error"]["code"] == code


def test_wrong_method_is_405_in_our_shape(api: Api) -> None:
    response = api.delete("/v2/events/types")
    assert response.status_code == 405
    assert body(response)["error"]["code"] == "method_not_allowed"


def test_an_unexpected_failure_is_a_500_without_a_trace(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(deps, "event_bus", broken)
    response = api.get("/v2/events")
    assert response.status_code == 500
    assert body(response)["error"]["code"] == "internal_error"
    assert b"secret internals" not in response.body and b"Traceback" not in response.body


def _publish_spread(api: Api, clock: Clock, count: int) -> list[dict[str, Any]]:
    """Publish ``count`` events, 7 hours apart (so they span several day partitions)."""
    start = clock.now
    published = []
    for i in range(count):
        clock.now = start + timedelta(hours=7 * i)
        kind = "custom.even" if i % 2 == 0 else "custom.odd"
        published.append(body(post(api, "/v2/events", {"type": kind, "data": {"i": i}})))
    return published


def _all_pages(api: Api, query: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    items, cursor, pages = [], None, 0
    for _ in range(50):  # bounded
        path = f"/v2/events?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(path)
        assert response.status_code == 200, response.body
        page = body(response)
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return items, pages


def test_timeline_pages_across_days_newest_first_without_loss_or_repeat(api: Api, clock: Clock) -> None:
    published = _publish_spread(api, clock, 11)  # 70 hours: 4 day partitions
    for limit in (1, 2, 3, 50):
        items, pages = _all_pages(api, "", limit)
        assert items == list(reversed(published)), limit
        assert pages == -(-len(published) // limit)  # no trailing empty page


def test_timeline_filters_by_type_and_range(api: Api, clock: Clock) -> None:
    published = _publish_spread(api, clock, 9)
    odd, _ = _all_pages(api, "&type=custom.odd", 2)
    assert odd == [e for e in reversed(published) if e["type"] == "custom.odd"]
    start, end = published[2]["timestamp"], published[5]["timestamp"]
    ranged, _ = _all_pages(api, f"&from={start}&to={end}", 2)
    assert ranged == list(reversed(published[2:6]))


def test_a_cursor_is_only_good_for_its_own_filters(api: Api, clock: Clock) -> None:
    _publish_spread(api, clock, 3)
    cursor = body(api.get("/v2/events?limit=1"))["next_cursor"]
    response = api.get(f"/v2/events?limit=1&type=custom.odd&cursor={cursor}")
    assert response.status_code == 400
    assert body(response)["error"]["details"][0]["field"] == "cursor"


def test_expired_events_are_not_listed(api: Api, clock: Clock) -> None:
    # moto never deletes TTL items, so reads must filter them
    event = _publish_spread(api, clock, 1)[0]
    clock.now += timedelta(days=31)
    assert body(api.get("/v2/events"))["items"] == []
    assert api.get(f"/v2/events/{event['id']}").status_code == 404


def test_listing_queries_one_partition_per_month_and_never_scans(api: Api, clock: Clock) -> None:
    _publish_spread(api, clock, 8)  # 49 hours after noon: 3 days
    with count_calls() as calls:
        api.get("/v2/events?limit=200")
        api.get("/v2/events?limit=5&type=custom.odd")
    assert calls["Scan"] == 0
    # the default range is 30 days: its months (2 at most) on the by-month index, plus one
    # Query for the type index
    assert calls["Query"] <= 2 + 1
    with count_calls() as calls:
        api.get("/v2/events?limit=1")
    assert calls["Query"] == 1  # the newest month fills the page and shows there is more: stop
