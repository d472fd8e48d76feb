from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ratelimit import BucketState, Policy, take
from chalicelib.services.ratelimits import RateLimiter
from chalicelib.store.rate_limits import MemoryBucketStore

READ = Policy("read", quota=10, window_seconds=60)


def test_a_new_bucket_is_full() -> None:
    decision = take(None, 0, READ)
    assert decision.allowed and decision.remaining == 9
    assert decision.header(READ) == '"read";r=9;t=6'
    assert READ.header() == '"read";q=10;w=60'


def test_an_empty_bucket_denies_with_retry_after_then_refills() -> None:
    state = None
    for _ in range(10):
        decision = take(state, 0, READ)
        assert decision.allowed
        state = decision.state
    denied = take(state, 0, READ)
    assert not denied.allowed and denied.remaining == 0 and denied.retry_after == 6
    assert not take(state, 5_999, READ).allowed
    assert take(state, 6_000, READ).allowed
    full = take(state, 60_000, READ)
    assert full.remaining == 9 and full.allowed


def test_a_clock_going_backwards_refills_nothing() -> None:
    state = BucketState(tokens=0.0, updated_ms=10_000)
    decision = take(state, 5_000, READ)
    assert not decision.allowed and decision.state.updated_ms == 10_000


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=200),
    quota=st.integers(1, 50),
    window=st.integers(1, 120),
)
def test_never_more_than_quota_plus_refill(gaps: list[int], quota: int, window: int) -> None:
    # Over any run of requests, allowed <= quota + elapsed * rate (the bucket's promise)
    policy = Policy("p", quota, window)
    state, now, allowed = None, 0, 0
    for gap in gaps:
        now += gap
        decision = take(state, now, policy)
        state = decision.state
        allowed += decision.allowed
        assert 0 <= decision.remaining <= quota
        assert decision.allowed or decision.retry_after >= 1
    assert allowed <= quota + (now / 1000) * policy.rate + 1e-9


def test_histogram_percentiles_from_bucket_counters() -> None:
    from collections import Counter

    from chalicelib.domain.histogram import observe, percentile, summary

    counts: Counter[str] = Counter()
    for ms in [3, 7, 20, 40, 80, 90, 200, 400, 900, 3000]:
        counts.update(observe("lat", ms))
    assert percentile(counts, "lat", 0.5) == 100
    assert percentile(counts, "lat", 0.95) == 5000
    assert summary(counts, "lat")["count"] == 10 and summary(counts, "lat")["mean_ms"] == 474.0
    assert percentile(Counter(), "lat", 0.5) is None


class RacyStore(MemoryBucketStore):
    """Reads take a moment, so concurrent callers read the same state and race to write it."""

    def get(self, bucket: str) -> BucketState | None:
        state = super().get(bucket)
        time.sleep(0.005)
        return state


def test_parallel_requests_of_one_caller_are_not_refused_for_contention() -> None:
    # Given a browser's eight parallel requests with one key, far under the quota
    store = RacyStore()
    limiter = RateLimiter(store, {"read": Policy("read", 600, 86_400)})  # refills ~nothing
    barrier = threading.Barrier(8)

    def one() -> bool:
        barrier.wait(timeout=5)
        return limiter.check("key:k", "read")[1].allowed

    # When they all take a token at once
    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda _: one(), range(8)))
    # Then every one gets through, and each took its own token
    assert allowed == [True] * 8
    state = store.get("key:k#read")
    assert state is not None and 591 < state.tokens < 593
