"""API versions (deprecation, sunset, API-Version) and rate limiting, with the clock injected."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import deps
from chalicelib.domain.ratelimit import Policy
from chalicelib.services.ratelimits import RateLimiter, parse_policies
from chalicelib.store.rate_limits import DynamoBucketStore, MemoryBucketStore
from tests.conftest import Api, Clock
from tests.functional.aws_calls import count_calls


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(deps, "clock", clock)
    return clock


def body(response: Any) -> Any:
    return json.loads(response.body)


# --- versions ----------------------------------------------------------------------------------


def test_v2_responses_say_their_version_and_carry_no_deprecation(api: Api, clock: Clock) -> None:
    response = api.get("/v2/events")
    assert response.headers["API-Version"] == "2"
    assert "Deprecation" not in response.headers and "Sunset" not in response.headers


def test_v1_answers_like_v2_with_deprecation_headers(api: Api, clock: Clock) -> None:
    api.post("/v2/events", {"type": "custom.v1_check"})
    v1, v2 = api.get("/v1/events"), api.get("/v2/events")
    assert v1.status_code == 200 and body(v1) == body(v2)
    assert v1.headers["API-Version"] == "1"
    assert v1.headers["Deprecation"] == "@1780272000"  # 2026-06-01T00:00:00Z (RFC 9745)
    assert v1.headers["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"  # RFC 8594
    assert v1.headers["Link"] == '</v2/events>; rel="successor-version"'


def test_v1_is_gone_after_its_sunset(api: Api, clock: Clock) -> None:
    clock.now = datetime(2027, 6, 1, tzinfo=UTC) - timedelta(seconds=1)
    assert api.get("/v1/events/types").status_code == 200
    clock.now += timedelta(seconds=1)
    response = api.get("/v1/events/types")
    assert response.status_code == 410
    assert body(response)["error"]["code"] == "gone"
    assert response.headers["Link"] == '</v2/events/types>; rel="successor-version"'
    assert api.get("/v2/events/types").status_code == 200


def test_only_operations_that_exist_in_v1_are_served_there(api: Api, clock: Clock) -> None:
    assert api.post("/v1/events", {"type": "custom.x"}).status_code == 405  # GET only in v1
    assert api.get("/v1/api-keys").status_code == 404


@pytest.mark.parametrize(
    ("path", "header", "status"),
    [
        ("/v2/events", "2", 200),
        ("/v2/events", "v2", 200),
        ("/v2/events", "3", 400),
        ("/v2/events", "banana", 400),
        ("/v2/events", "1", 400),  # disagrees with the path
        ("/v1/events", "1", 200),
    ],
)
def test_requested_api_version_header(api: Api, clock: Clock, path: str, header: str, status: int) -> None:
    response = api.get(path, headers={"API-Version": header})
    assert response.status_code == status
    if status == 400:
        assert body(response)["error"]["details"][0]["field"] == "API-Version"


# --- rate limits -------------------------------------------------------------------------------


@pytest.fixture
def small_limits(aws: dict[str, str], clock: Clock, monkeypatch: pytest.MonkeyPatch) -> RateLimiter:
    limiter = RateLimiter(
        DynamoBucketStore(),
        parse_policies(
            {"read": {"quota": 3, "window_seconds": 60}, "write": {"quota": 2, "window_seconds": 10}}
        ),
        clock_ms=lambda: int(clock.now.timestamp() * 1000),
    )
    monkeypatch.setattr(deps, "rate_limiter", lambda: limiter)
    return limiter


def test_429_once_the_bucket_is_empty_and_recovery_after_refill(
    api: Api, clock: Clock, small_limits: RateLimiter
) -> None:
    seen = [api.get("/v2/events") for _ in range(3)]
    assert [r.status_code for r in seen] == [200, 200, 200]
    assert seen[0].headers["RateLimit-Policy"] == '"read";q=3;w=60'
    assert [r.headers["RateLimit"] for r in seen] == ['"read";r=2;t=20', '"read";r=1;t=40', '"read";r=0;t=60']
    refused = api.get("/v2/events")
    assert refused.status_code == 429
    assert body(refused)["error"]["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "20"
    assert refused.headers["RateLimit"] == '"read";r=0;t=60'
    # Other classes have their own bucket
    assert api.post("/v2/events", {"type": "custom.w"}).status_code == 201
    # After the refill time, without sleeping
    clock.now += timedelta(seconds=19)
    assert api.get("/v2/events").status_code == 429
    clock.now += timedelta(seconds=1)
    assert api.get("/v2/events").status_code == 200


def test_buckets_are_per_key(api: Api, keys: dict[str, str], clock: Clock, small_limits: RateLimiter) -> None:
    for _ in range(3):
        api.get("/v2/events")
    assert api.get("/v2/events").status_code == 429
    assert api.get("/v2/events", key=keys["viewer"]).status_code == 200


def test_callers_without_a_key_are_limited_by_source_ip(
    api: Api, clock: Clock, small_limits: RateLimiter
) -> None:
    statuses = [api.get("/v2/events", key=None).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_per_key_overrides(api: Api, keys: dict[str, str], clock: Clock, small_limits: RateLimiter) -> None:
    created = body(
        api.post(
            "/v2/api-keys",
            {"name": "big", "role": "viewer", "rate_limits": {"read": {"quota": 5, "window_seconds": 60}}},
            key=keys["admin"],
        )
    )
    statuses = [api.get("/v2/events", key=created["key"]).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_two_app_instances_share_one_bucket(aws: dict[str, str]) -> None:
    # Given two containers, each with its own limiter and store, on the same table
    now = [1_000_000]
    policies = {"read": Policy("read", 5, 60)}
    first = RateLimiter(DynamoBucketStore(), policies, clock_ms=lambda: now[0])
    second = RateLimiter(DynamoBucketStore(), policies, clock_ms=lambda: now[0])
    # When they take turns, Then together they allow exactly the quota
    allowed = [(first if i % 2 else second).check("key:k", "read")[1].allowed for i in range(8)]
    assert allowed == [True] * 5 + [False] * 3


def test_fifty_parallel_requests_are_refused_only_when_the_bucket_is_empty(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one key's bucket in DynamoDB and 50 requests at once (threads, one store each)
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from moto.dynamodb.models import DynamoDBBackend

    # DynamoDB applies one item's conditional updates one at a time; moto in-process does not
    # lock (threads interleave inside one update), so give it the atomicity DynamoDB has.
    lock, update = threading.Lock(), DynamoDBBackend.update_item

    def atomic_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return update(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", atomic_update)

    for quota, expected in ((1_000_000, 50), (10, 10)):
        limiter = RateLimiter(
            DynamoBucketStore(), {"read": Policy("read", quota, 86_400)}, clock_ms=lambda: 1_000_000
        )
        with ThreadPoolExecutor(10) as pool:
            allowed = list(
                pool.map(lambda _, lim=limiter, q=quota: lim.check(f"key:{q}", "read")[1].allowed, range(50))
            )
        # Then budget left means allowed, and exactly the quota gets through (no lost race)
        assert sum(allowed) == expected


def test_budgets_per_role_and_per_key() -> None:
    limiter = RateLimiter(
        MemoryBucketStore(),
        parse_policies({"roles": {"viewer": {"read": {"quota": 7, "window_seconds": 60}}}}),
    )
    assert limiter.policy("read", role="viewer").quota == 7  # configured for the role
    assert limiter.policy("read", role="admin").quota == 1200  # the role's built-in default
    assert limiter.policy("read", role="ip").quota == 120  # callers without a valid key
    own = {"read": {"quota": 3, "window_seconds": 10}}
    assert limiter.policy("read", own, role="viewer").quota == 3  # the key's own wins
    everyone = RateLimiter(MemoryBucketStore(), parse_policies({"read": {"quota": 5, "window_seconds": 60}}))
    assert everyone.policy("read", role="admin").quota == 5  # configured for everyone


def test_rate_limiting_costs_one_write_per_request(api: Api, clock: Clock) -> None:
    api.get("/v2/events")
    clock.now += timedelta(seconds=1)  # the bucket had time to refill: not a burst
    with count_calls() as calls:
        api.get("/v2/events")
    assert calls["Scan"] == 0
    # auth: the key cached by this container (no read); rate limit: 1 conditional UpdateItem;
    # metrics: counted in memory, written every few seconds (not by this request)
    assert calls["GetItem"] == 0 and calls["PutItem"] == 0 and calls["UpdateItem"] == 1
    with count_calls() as burst:  # the same instant again: the bucket is in a burst now
        api.get("/v2/events")
    assert burst["GetItem"] == 0 and burst["UpdateItem"] == 1  # the burst's write, tried first
    clock.now += timedelta(seconds=60)  # idle again, as the container can tell: one write
    with count_calls() as after:
        api.get("/v2/events")
    assert after["UpdateItem"] == 1
