"""Conductor's counters as CloudWatch metrics, written in the Embedded Metric Format (EMF).

A Lambda function's stdout goes to CloudWatch Logs, which turns a JSON line carrying an ``_aws``
directive into metrics: no PutMetricData call, no extra latency, nothing to fail. Operators get
their alarms and graphs where they look (CloudWatch); the DynamoDB windows stay for the console.

Written here, not with a library: Powertools' Metrics costs 160-220 ms of imports on every cold
start (its package imports its Logger, jmespath and typing_extensions), a share of the whole cold
first request, and aws-embedded-metrics is asynchronous and finds its environment by probing, the
EC2 metadata endpoint among them. The format is one object; the tests validate it against the
specification's rules.

Cardinality is cost: each dimension value is a metric billed per month, so a subject becomes a
dimension only where there are few of them (a downstream service, a kind of work, an API route),
never an id (a schedule, an endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NAMESPACE = "Conductor"
#: at most this many metrics in one directive (the specification's limit)
MAX_METRICS = 100
#: CloudWatch's units (MetricDatum)
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)

#: (Conductor's metric, its counter) -> the CloudWatch metric's name and unit
NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("retries", "created"): ("RetryJobsCreated", "Count"),
    ("retries", "attempts"): ("RetryAttempts", "Count"),
    ("retries", "succeeded"): ("RetrySucceeded", "Count"),
    ("retries", "dead_lettered"): ("RetryDeadLettered", "Count"),
    ("retries", "resolved"): ("RetryResolved", "Count"),
    ("webhooks", "attempts"): ("DeliveryAttempts", "Count"),
    ("webhooks", "delivered"): ("DeliveriesDelivered", "Count"),
    ("webhooks", "failed"): ("DeliveriesFailed", "Count"),
    ("webhooks", "latency"): ("DeliveryLatency", "Milliseconds"),
    ("schedules", "runs"): ("ScheduleRuns", "Count"),
    ("schedules", "failures"): ("ScheduleRunsFailed", "Count"),
    ("schedules", "skipped"): ("ScheduleRunsSkipped", "Count"),
    ("schedules", "duration"): ("ScheduleRunDuration", "Milliseconds"),
    ("breakers", "open"): ("BreakerOpened", "Count"),
    ("breakers", "half_open"): ("BreakerHalfOpened", "Count"),
    ("breakers", "closed"): ("BreakerClosed", "Count"),
    ("reconciler", "recovered"): ("RecoveredWork", "Count"),
}

#: the dimension a metric's subject becomes (metrics not named here: the subject is an id)
SUBJECT_DIMENSION = {"retries": "Service", "breakers": "Service", "reconciler": "Kind"}


def values_of(
    metric: str, fields: Mapping[str, float], timing: tuple[str, float] | None = None
) -> dict[str, tuple[float, str]]:
    """The CloudWatch metrics one count of ``metric`` makes: name -> (value, unit)."""
    values = {
        NAMES[(metric, field)][0]: (float(value), NAMES[(metric, field)][1])
        for field, value in fields.items()
        if (metric, field) in NAMES
    }
    if timing is not None and (metric, timing[0]) in NAMES:
        name, unit = NAMES[(metric, timing[0])]
        values[name] = (float(timing[1]), unit)
    return values


def document(
    values: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    timestamp_ms: int,
    namespace: str = NAMESPACE,
) -> dict[str, Any]:
    """One EMF document: the values, published under ``Stage`` alone and under ``Stage`` with
    each other dimension (so an alarm reads the stage's total, a graph splits it)."""
    if not values:
        raise ValueError("an EMF document needs at least one metric")
    if len(values) > MAX_METRICS:
        raise ValueError(f"at most {MAX_METRICS} metrics in one document")
    for name, (_, unit) in values.items():
        if unit not in UNITS:
            raise ValueError(f"{name}: {unit!r} is not a CloudWatch unit")
    others = [key for key in dimensions if key != "Stage"]
    sets = [["Stage"], *(["Stage", key] for key in others)]
    return {
        "_aws": {
            "Timestamp": int(timestamp_ms),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": sets,
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                }
            ],
        },
        **{key: str(value) for key, value in dimensions.items()},
        **{name: value for name, (value, _) in values.items()},
    }
