"""What a request costs beyond its own work: the key cache and the metrics buffer, in memory."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.keys import ApiKey, hash_key
from chalicelib.errors import DependencyUnavailable
from chalicelib.services.auth import Authenticator
from chalicelib.services.metrics import MetricsService

KEY = "cnd_" + "k" * 43


class Keys:
    """The key table's one call, counted."""

    def __init__(self) -> None:
        self.reads = 0
        self.key = ApiKey(id="key_1", key_hash=hash_key(KEY), name="n", role="viewer", created_at="t")

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        self.reads += 1
        return self.key if key_hash == self.key.key_hash else None


def test_a_key_is_read_once_per_cache_period_and_forgotten_when_revoked_here() -> None:
    keys, now = Keys(), [100.0]
    auth = Authenticator(keys, cache_seconds=10, monotonic=lambda: now[0])  # type: ignore[arg-type]
    # Given a valid key used twice within the period: one read
    assert auth.identify(KEY).key_id == "key_1" and auth.identify(KEY) is not None
    assert keys.reads == 1
    # When another container revokes it, Then this one refuses it once its period is over
    keys.key = ApiKey(**{**keys.key.__dict__, "revoked_at": "t2"})
    assert auth.identify(KEY) is not None
    now[0] += 10.5
    assert auth.identify(KEY) is None and keys.reads == 2
    # And an unknown key is never cached (a key made a moment ago works at once)
    assert auth.identify("cnd_" + "x" * 43) is None and auth.identify("cnd_" + "x" * 43) is None
    assert keys.reads == 4


def test_a_key_revoked_in_this_container_is_refused_on_the_next_request() -> None:
    keys = Keys()
    auth = Authenticator(keys, cache_seconds=10)  # type: ignore[arg-type]
    assert auth.identify(KEY) is not None
    keys.key = ApiKey(**{**keys.key.__dict__, "revoked_at": "t2"})
    auth.forget("key_1")
    assert auth.identify(KEY) is None


class Store:
    """The metrics table's writes, counted (one ``add`` is one UpdateItem per window)."""

    def __init__(self) -> None:
        self.adds: list[tuple[str, datetime, dict[str, float]]] = []
        self.subjects: list[tuple[str, datetime, dict[str, dict[str, float]]]] = []
        self.fail = False

    def add(self, metric: str, moment: datetime, fields: dict[str, float]) -> None:
        if self.fail:
            raise DependencyUnavailable("down")
        self.adds.append((metric, moment, dict(fields)))

    def add_subjects(
        self,
        metric: str,
        moment: datetime,
        by_subject: dict[str, dict[str, float]],
        labels: dict[str, str] | None = None,
    ) -> None:
        self.subjects.append((metric, moment, {k: dict(v) for k, v in by_subject.items()}))

    def total(self, *_: Any) -> Counter[str]:
        return Counter()


def test_counts_are_summed_in_memory_and_written_once_per_period() -> None:
    store, tick = Store(), [0.0]
    clock = [datetime(2026, 11, 30, 10, 0, 5, tzinfo=UTC)]
    metrics = MetricsService(
        store,
        clock=lambda: clock[0],
        flush_seconds=10,  # type: ignore[arg-type]
        monotonic=lambda: tick[0],
    )
    # Given 100 requests and 3 retry counts within one minute
    for _ in range(100):
        metrics.request(200, 12.0)
    metrics.count("retries", "billing", {"created": 1})
    metrics.count("retries", "billing", {"created": 2})
    metrics.flush_if_due()
    assert store.adds == []  # nothing written yet: not due
    # When the period is over, Then each metric is written once, its counts summed
    tick[0] = 10.0
    metrics.flush_if_due()
    written = {metric: fields for metric, _, fields in store.adds}
    assert written["api"]["requests"] == 100 and written["retries"] == {"created": 3}
    assert len(store.adds) == 2
    # (the subject's own counts in its own item, the metric's window only its totals)
    assert [(m, s) for m, _, s in store.subjects] == [("retries", {"billing": {"created": 3}})]
    # And counts of another minute are written with their own minute
    clock[0] += timedelta(minutes=1)
    metrics.request(200, 1.0)
    metrics.flush()
    assert store.adds[-1][1] == clock[0]


def test_a_read_writes_the_pending_counts_first_and_a_failed_write_is_logged() -> None:
    store = Store()
    metrics = MetricsService(store, flush_seconds=3600)  # type: ignore[arg-type]
    metrics.request(200, 1.0)
    metrics.total("api", datetime.now(UTC), datetime.now(UTC), "hour")
    assert len(store.adds) == 1
    store.fail = True
    metrics.request(500, 1.0)
    metrics.flush()  # never raises: counting never fails the work it counts
