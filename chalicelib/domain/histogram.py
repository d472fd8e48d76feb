"""Latency histograms as plain counters: fixed buckets (ms), so a window's histogram is a handful
of atomically added numbers, and percentiles are read back from them."""
from __future__ import annotations

from collections.abc import Mapping

BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def observe(prefix: str, ms: float) -> dict[str, float]:
    """The counter increments that record one observation of ``ms`` under ``prefix``."""
    bucket = next((b for b in BUCKETS_MS if ms <= b), "inf")
    return {f"{prefix}.count": 1, f"{prefix}.sum_ms": round(ms, 3), f"{prefix}.le_{bucket}": 1}


def percentile(counts: Mapping[str, float], prefix: str, q: float) -> float | None:
    """The bucket bound under which ``q`` of the observations fall (None without data)."""
    total = counts.get(f"{prefix}.count", 0)
    if not total:
        return None
    rank, seen = q * total, 0.0
    for bucket in BUCKETS_MS:
        seen += counts.get(f"{prefix}.le_{bucket}", 0)
        if seen >= rank:
            return float(bucket)
    return float("inf")


def summary(counts: Mapping[str, float], prefix: str) -> dict[str, float | None]:
    total = counts.get(f"{prefix}.count", 0)
    return {"count": int(total),
            "mean_ms": round(counts.get(f"{prefix}.sum_ms", 0) / total, 2) if total else None,
            "p50_ms": percentile(counts, prefix, 0.5), "p95_ms": percentile(counts, prefix, 0.95)}
