"""Latency histograms as plain counters: fixed buckets (ms), so a window's histogram is a handful
of atomically added numbers, and percentiles are read back from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def observe(prefix: str, ms: float) -> dict[str, float]:
    """The counter increments that record one observation of ``ms`` under ``prefix``."""
    bucket = next((b for b in BUCKETS_MS if ms <= b), "inf")
    return {f"{prefix}.count": 1, f"{prefix}.sum_ms": round(ms, 3), f"{prefix}.le_{bucket}": 1}


def percentile(counts: Mapping[str, float], prefix: str, q: float) -> float | None:
    """The bucket bound under which ``q`` of the observations fall; None without data, or when
    they fall beyond the last bucket (see ``summary``: never an infinite number in JSON)."""
    total = counts.get(f"{prefix}.count", 0)
    if not total:
        return None
    rank, seen = q * total, 0.0
    for bucket in BUCKETS_MS:
        seen += counts.get(f"{prefix}.le_{bucket}", 0)
        if seen >= rank:
            return float(bucket)
    return None


def beyond_buckets(counts: Mapping[str, float], prefix: str, q: float) -> bool:
    """Whether the ``q`` quantile lies beyond the last bucket (slower than 30 s)."""
    return bool(counts.get(f"{prefix}.count", 0)) and percentile(counts, prefix, q) is None


def summary(counts: Mapping[str, float], prefix: str) -> dict[str, Any]:
    """Count, mean and percentiles. ``p50_ms``/``p95_ms`` are bucket upper bounds ("at most"),
    as ``percentiles`` says; one beyond the last bucket is null with ``p95_above_ms`` set to it."""
    total = counts.get(f"{prefix}.count", 0)
    result: dict[str, Any] = {
        "count": int(total),
        "mean_ms": round(counts.get(f"{prefix}.sum_ms", 0) / total, 2) if total else None,
        "percentiles": "bucket_upper_bound",
    }
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        result[f"{name}_ms"] = percentile(counts, prefix, q)
        result[f"{name}_above_ms"] = float(BUCKETS_MS[-1]) if beyond_buckets(counts, prefix, q) else None
    return result
