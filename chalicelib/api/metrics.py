"""``/v2/metrics/*`` and the dashboard's read models ``/v2/dashboard/*``: each answers from a
small, fixed set of key lookups and queries (docs/data-model.md lists them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib import deps
from chalicelib.api.recovery import dead_letter_json
from chalicelib.api.routing import ApiBlueprint
from chalicelib.domain.timeutil import to_iso
from chalicelib.errors import ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.api.schemas import HistoryQuery, RangeQuery, TimelineQuery

bp = ApiBlueprint(__name__)
MAX_RANGE = timedelta(days=400)


def _range(query: Any) -> tuple[datetime | None, datetime | None]:
    start, end = query.from_, query.to
    if start and end and (start > end or end - start > MAX_RANGE):
        raise ValidationFailed(
            "Invalid time range.",
            [{"field": "from", "problem": "must be before 'to' and at most 400 days earlier"}],
        )
    return start, end


@bp.operation(
    "GET",
    "/metrics/summary",
    summary="Totals and rates of every component",
    role="viewer",
    query="RangeQuery",
)
def metrics_summary(query: RangeQuery) -> dict[str, Any]:
    """Totals and rates of every component over a range (default: the last 24 hours): API requests
    and latency, retries, schedule runs, webhook deliveries, breakers, open dead letters."""
    return deps.metrics().summary(*_range(query))


@bp.operation(
    "GET",
    "/metrics/history",
    summary="One metric's windows over a range",
    role="viewer",
    query="HistoryQuery",
)
def metrics_history(query: HistoryQuery) -> dict[str, Any]:
    """One metric's counters per minute, hour or day window over a range, optionally one field
    only; each point carries its latency or duration percentiles."""
    start, end = _range(query)
    return deps.metrics().history(query.metric, query.window, start, end, query.field)


@bp.operation(
    "GET",
    "/metrics/errors",
    summary="Retry counts and rates by service",
    role="viewer",
    query="RangeQuery",
    response="RetryStats",
)
def metrics_errors(query: RangeQuery) -> dict[str, Any]:
    """Retry counts and success rates by service over a range."""
    start, end = _range(query)
    end = end or deps.clock()
    stats = deps.retries().stats(start or end - timedelta(hours=24), end)
    return {**stats, "names": deps.schedules().service_names(set(stats["services"]))}


@bp.operation(
    "GET",
    "/metrics/schedules",
    summary="Runs, failures and durations by schedule",
    role="viewer",
    query="RangeQuery",
)
def metrics_schedules(query: RangeQuery) -> dict[str, Any]:
    """Runs, failures and skips by schedule over a range, each with its schedule's name (as
    it was when it last ran)."""
    return deps.metrics().per_subject(
        "schedules", *_range(query), good="runs", bad="failures", bad_within_good=True
    )


@bp.operation(
    "GET",
    "/metrics/webhooks",
    summary="Success rate and latency by endpoint",
    role="viewer",
    query="RangeQuery",
)
def metrics_webhooks(query: RangeQuery) -> dict[str, Any]:
    """Deliveries, failures, attempts (and the failed ones) and latency by webhook endpoint over
    a range, each with what named it when it was last counted (its description, else its URL)."""
    return deps.metrics().per_subject(
        "webhooks", *_range(query), good="delivered", bad="failed", attempts=True
    )


@bp.operation(
    "GET",
    "/dashboard/overview",
    summary="What needs attention, totals, rates, breakers, DLQ size, next runs",
    role="viewer",
)
def dashboard_overview() -> dict[str, Any]:
    """What the dashboard's overview shows in one answer: what needs attention (breakers not
    closed, schedules and endpoints that failed in the last 24 hours, paused schedules, disabled
    endpoints), the last 24 hours' totals and rates, breaker states, open dead letters and the
    next runs."""
    breakers, _ = deps.breakers().list(50, None)
    # a schedule's breaker is "schedule:<id>": named by its schedule
    names = deps.schedules().service_names({b["service"] for b in breakers})
    named = [
        {"service": b["service"], "state": b["state"], "name": names.get(b["service"])} for b in breakers
    ]
    return {
        "metrics": deps.metrics().summary(),
        "attention": deps.triage().report(named),
        "breakers": named,
        "next_runs": deps.scheduler().upcoming(10),
    }


@bp.operation("GET", "/dashboard/errors", summary="Retry stats, open dead letters, breakers", role="viewer")
def dashboard_errors() -> dict[str, Any]:
    """Retry statistics, open dead letters and breakers, for the dashboard's errors view."""
    end = deps.clock()
    dead, _ = deps.dead_letters().list("open", None, None, None, 20, None)
    breakers, _ = deps.breakers().list(50, None)
    return {
        "stats": deps.retries().stats(end - timedelta(hours=24), end),
        "open_dead_letters": [dead_letter_json(e) for e in dead],
        "breakers": breakers,
    }


@bp.operation(
    "GET",
    "/dashboard/schedules",
    summary="Upcoming runs and the last day's runs (for a Gantt timeline)",
    role="viewer",
    query="RangeQuery",
)
def dashboard_schedules(query: RangeQuery) -> dict[str, Any]:
    """Upcoming runs and the range's past runs (default: the last day), for the dashboard's
    schedule timeline."""
    start, end = _range(query)
    end = end or deps.clock()
    start = start or end - timedelta(hours=24)
    bus = deps.event_bus()
    recent = []
    for kind in ("schedule.executed", "schedule.failed", "schedule.skipped"):
        recent += [e.to_dict() for e in bus.list(200, start=start, end=end, event_type=kind).events]
    recent.sort(key=lambda e: e["timestamp"])
    return {
        "from": to_iso(start),
        "to": to_iso(end),
        "upcoming": deps.scheduler().upcoming(50),
        "recent": recent,
    }


@bp.operation(
    "GET",
    "/dashboard/webhooks",
    summary="Per-endpoint success rates and latency",
    role="viewer",
    query="RangeQuery",
)
def dashboard_webhooks(query: RangeQuery) -> dict[str, Any]:
    """Success rates and latency per webhook endpoint over a range."""
    return deps.metrics().per_subject(
        "webhooks", *_range(query), good="delivered", bad="failed", attempts=True
    )


@bp.operation(
    "GET",
    "/dashboard/timeline",
    summary="Events of a time range (default: the last 24 hours), newest first",
    role="viewer",
    query="TimelineQuery",
)
def dashboard_timeline(query: TimelineQuery) -> dict[str, Any]:
    """Events of a range (default: the last 24 hours), newest first, optionally of one type."""
    from chalicelib.api.events import list_events  # noqa: PLC0415 - the same view, same query

    if query.from_ is None:
        query.from_ = (query.to or deps.clock()) - timedelta(hours=24)
    return list_events(query)  # type: ignore[arg-type]
