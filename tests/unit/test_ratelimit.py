from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ratelimit import Policy, take
from chalicelib.services.ratelimits import RateLimiter
from chalicelib.store.rate_limits import MemoryBucketStore

READ = Policy("read", quota=10, window_seconds=60)


def test_a_new_bucket_is_full() -> None:
    decision, _ = take(None, 0, READ)
    assert decision.allowed and decision.remaining == 9
    assert decision.header(READ) == '"read";r=9;t=6'
    assert READ.header() == '"read";q=10;w=60'


def test_an_empty_bucket_denies_with_retry_after_then_refills() -> None:
    tat = None
    for _ in range(10):
        decision, tat = take(tat, 0, READ)
        assert decision.allowed
    denied, _ = take(tat, 0, READ)
    assert not denied.allowed and denied.remaining == 0 and denied.retry_after == 6
    assert not take(tat, 5_999, READ)[0].allowed
    assert take(tat, 6_000, READ)[0].allowed
    full, _ = take(tat, 60_000, READ)
    assert full.remaining == 9 and full.allowed


def test_a_clock_going_backwards_refills_nothing() -> None:
    # a bucket emptied at 10 s (another container's clock ahead of ours) is empty at 5 s too
    tat = 10_000 + 60_000.0
    decision, after = take(tat, 5_000, READ)
    assert not decision.allowed and after == tat


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=200),
    quota=st.integers(1, 50),
    window=st.integers(1, 120),
)
def test_never_more_than_quota_plus_refill(gaps: list[int], quota: int, window: int) -> None:
    # Over any run of requests, allowed <= quota + elapsed * rate (the bucket's promise)
    policy = Policy("p", quota, window)
    tat, now, allowed = None, 0, 0
    for gap in gaps:
        now += gap
        decision, after = take(tat, now, policy)
        tat = after if decision.allowed else tat
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


def test_parallel_requests_of_one_caller_are_refused_only_when_the_bucket_is_empty() -> None:
    # Given 50 requests at once with one key: a quota of 1,000,000, then one of 20
    for quota, expected in ((1_000_000, 50), (20, 20)):
        store = MemoryBucketStore()
        limiter = RateLimiter(store, {"read": Policy("read", quota, 86_400)})  # no refill to speak of
        barrier = threading.Barrier(50)

        def one(limiter: RateLimiter = limiter, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait(timeout=10)
            return limiter.check("key:k", "read")[1].allowed

        with ThreadPoolExecutor(50) as pool:
            allowed = list(pool.map(lambda _, one=one: one(), range(50)))
        # Then every one gets through while budget is left, and exactly the budget when it is not
        assert sum(allowed) == expected
