"""Metrics: every component counts what it does in minute/hour/day windows; the API and the
dashboard read them back with a Query per metric, never a scan."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import emf
from chalicelib.domain.histogram import observe, summary
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import DependencyUnavailable
from chalicelib.store.metrics import MetricsStore, window_start

log = logging.getLogger("conductor.metrics")
METRICS = ("api", "retries", "schedules", "webhooks", "breakers")


#: the histogram prefixes metrics record (api and webhooks: latency; schedules: duration)
HISTOGRAMS = ("latency", "duration")


def _by_subject(counts: Mapping[str, float]) -> dict[str, Counter[str]]:
    """``"name|subject"`` fields grouped by subject."""
    grouped: dict[str, Counter[str]] = {}
    for field, value in counts.items():
        name, sep, subject = field.partition("|")
        if sep:
            grouped.setdefault(subject, Counter())[name] += value
    return grouped


def _rate(good: float, bad: float) -> float | None:
    """good / (good + bad) for two disjoint outcomes (succeeded vs dead-lettered)."""
    return round(good / (good + bad), 4) if good + bad else None


#: How long a container keeps counts before writing them (one UpdateItem per window and metric
#: then, instead of three per counted request). A container reclaimed by Lambda right after its
#: last invocation loses at most this long of its own counts; a read flushes first.
FLUSH_SECONDS = 10.0


class MetricsService:
    """Counts are summed in memory per (metric, minute) and written every ``flush_seconds``: the
    windows' items are written by each container a few times a minute, never by every request
    (a hot item caps the whole API near 1,000 writes a second)."""

    def __init__(
        self,
        store: MetricsStore,
        clock: Callable[[], datetime] = utcnow,
        flush_seconds: float = FLUSH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        emf_line: Callable[[str], None] | None = None,
        stage: str = "dev",
    ) -> None:
        self._store = store
        #: where CloudWatch EMF lines go (stdout on Lambda); None: none are made
        self._emf_line = emf_line
        self._stage = stage
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._monotonic = monotonic
        self._pending: dict[tuple[str, str], tuple[datetime, Counter[str]]] = {}
        #: (metric, subject) -> the subject's name, written with its next counts
        self._names: dict[tuple[str, str], str] = {}
        self._since: float | None = None  # when the oldest pending count was made
        self._lock = threading.Lock()

    # --- recording (never fails the work it describes) -------------------------------------------

    def record(
        self, metric: str, fields: Mapping[str, float], latency: tuple[str, float] | None = None
    ) -> None:
        counted = dict(fields)
        if latency is not None:
            counted.update(observe(*latency))
        if not counted:
            return
        now = self._clock()
        with self._lock:
            _, pending = self._pending.setdefault((metric, window_start(now, "minute")), (now, Counter()))
            pending.update(counted)
            if self._since is None:
                self._since = self._monotonic()

    def flush_if_due(self) -> None:
        """Write the pending counts when the oldest is ``flush_seconds`` old (after each
        invocation)."""
        since = self._since
        if since is not None and self._monotonic() - since >= self._flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write every pending count now: one UpdateItem per metric, minute and window, and one
        per subject counted since the last write."""
        with self._lock:
            pending, self._pending, self._since = self._pending, {}, None
            names, self._names = self._names, {}
        for (metric, _), (moment, fields) in pending.items():
            try:  # the metric's totals in its windows, each subject's in an item of its own
                self._store.add(metric, moment, _fold(fields))
                subjects = _by_subject(fields)
                if subjects:
                    self._store.add_subjects(
                        metric,
                        moment,
                        subjects,
                        {
                            subject: names[(metric, subject)]
                            for subject in subjects
                            if (metric, subject) in names
                        },
                    )
            except DependencyUnavailable:
                log.warning("could not record %s %s", metric, sorted(fields), exc_info=True)

    def count(
        self,
        metric: str,
        subject: str,
        fields: Mapping[str, float],
        timing: tuple[str, float | None] | None = None,
        name: str | None = None,
    ) -> None:
        """Counters of one subject (a service, a schedule, an endpoint) in ``metric``'s windows,
        zeros left out. ``timing`` ``(name, ms)`` also adds the subject's ``<name>_ms`` and
        ``<name>_count`` (its mean) and the metric's ``<name>`` histogram; ``name`` is kept with
        the subject's counts (what lists show beside its id). Never raises."""
        counted = {f"{field}|{subject}": value for field, value in fields.items() if value}
        histogram = None
        if timing is not None and timing[1] is not None:
            prefix, ms = timing[0], float(timing[1])
            counted.update({f"{prefix}_ms|{subject}": ms, f"{prefix}_count|{subject}": 1})
            histogram = (prefix, ms)
        if counted:
            if name is not None:  # lists show it beside the id, with no read of the subject
                with self._lock:
                    self._names[(metric, subject)] = name
            self.record(metric, counted, histogram)
            dimension = emf.SUBJECT_DIMENSION.get(metric)
            self.emit(
                emf.values_of(metric, {k: v for k, v in fields.items() if v}, histogram),
                {dimension: subject} if dimension else {},
            )

    def emit(
        self,
        values: Mapping[str, tuple[float, str]],
        dimensions: Mapping[str, str],
    ) -> None:
        """One CloudWatch EMF line of ``values`` (name -> (value, unit)) under the stage and
        ``dimensions``. Never raises: a metric never fails the work it describes."""
        if self._emf_line is None or not values:
            return
        try:
            moment = int(self._clock().timestamp() * 1000)
            self._emf_line(
                json.dumps(
                    emf.document(values, {"Stage": self._stage, **dimensions}, moment), separators=(",", ":")
                )
            )
        except (ValueError, OSError):
            log.warning("could not write the EMF line of %s", sorted(values), exc_info=True)

    def total(self, metric: str, start: datetime, end: datetime, window: str) -> dict[str, float]:
        """Every counter of ``metric`` summed over the windows of a range (one Query)."""
        self.flush()
        return _fold(self._store.total(metric, start, end, window))

    def by_subject(
        self, metric: str, start: datetime, end: datetime
    ) -> tuple[Counter[str], dict[str, Counter[str]], dict[str, str]]:
        """The metric's totals over the hours of a range, and each subject's (two Queries).
        Windows written before subjects had items of their own hold them as ``name|subject``
        fields: those are read from the totals, so nothing counted before is lost."""
        self.flush()
        totals = self._store.total(metric, start, end, "hour")
        subjects, names = self._store.subjects(metric, start, end)
        for subject, counts in _by_subject(totals).items():
            subjects.setdefault(subject, Counter()).update(counts)
        return _fold(totals), subjects, names

    def request(self, status: int, duration_ms: float, route: str | None = None) -> None:
        """One API request; in CloudWatch by route too (``GET /v2/schedules/{schedule_id}``),
        with 5xx counted as 0 or 1 so its rate is a sum over requests."""
        self.record("api", {"requests": 1, f"status_{status // 100}xx": 1}, ("latency", duration_ms))
        self.emit(
            {
                "Requests": (1, "Count"),
                "Errors5xx": (int(status >= 500), "Count"),
                "Latency": (duration_ms, "Milliseconds"),
            },
            {"Route": route} if route else {},
        )

    def gauge(self, name: str, delta: float) -> None:
        try:
            self._store.adjust_gauge(name, delta)
        except DependencyUnavailable:
            log.warning("could not adjust gauge %s", name, exc_info=True)

    def publish_updated(
        self, publish: Callable[[str, dict[str, Any]], Any], claim: Callable[[str], bool]
    ) -> bool:
        """``metrics.updated`` for the minute that just ended, once (``claim`` dedupes)."""
        minute = self._clock().replace(second=0, microsecond=0) - timedelta(minutes=1)
        key = f"metrics.updated:{window_start(minute, 'minute')}"
        if not claim(key):
            return False
        self.flush()
        totals = {m: _fold(self._store.total(m, minute, minute, "minute")) for m in METRICS}
        publish(
            "metrics.updated",
            {
                "window_start": window_start(minute, "minute"),
                "totals": {
                    m: {k: round(v, 3) for k, v in c.items() if "." not in k} for m, c in totals.items()
                },
            },
        )
        return True

    # --- reading ---------------------------------------------------------------------------------------

    def _range(
        self, start: datetime | None, end: datetime | None, default: timedelta = timedelta(hours=24)
    ) -> tuple[datetime, datetime]:
        end = end or self._clock()
        return start or end - default, end

    def summary(self, start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
        """Totals and rates of every component: one Query per metric (hour windows)."""
        start, end = self._range(start, end)
        self.flush()
        totals = {m: self._store.total(m, start, end, "hour") for m in METRICS}
        api, retries = totals["api"], _fold(totals["retries"])
        schedules, webhooks = _fold(totals["schedules"]), _fold(totals["webhooks"])
        return {
            "from": to_iso(start),
            "to": to_iso(end),
            "api": {
                "requests": int(api["requests"]),
                "errors_5xx": int(api["status_5xx"]),
                "errors_4xx": int(api["status_4xx"]),
                "error_rate": round(api["status_5xx"] / api["requests"], 4) if api["requests"] else None,
                "latency": summary(api, "latency"),
            },
            "retries": {
                "created": int(retries["created"]),
                "succeeded": int(retries["succeeded"]),
                "dead_lettered": int(retries["dead_lettered"]),
                "success_rate": _rate(retries["succeeded"], retries["dead_lettered"]),
            },
            "schedules": {
                "runs": int(schedules["runs"]),
                "failures": int(schedules["failures"]),
                "skipped": int(schedules["skipped"]),
                "success_rate": _rate(schedules["runs"] - schedules["failures"], schedules["failures"]),
                "duration": summary(totals["schedules"], "duration"),
            },
            "webhooks": {
                "delivered": int(webhooks["delivered"]),
                "failed": int(webhooks["failed"]),
                "attempts": int(webhooks["attempts"]),
                "success_rate": _rate(webhooks["delivered"], webhooks["failed"]),
                "latency": summary(totals["webhooks"], "latency"),
            },
            "breakers": {k: int(v) for k, v in _fold(totals["breakers"]).items()},
            "dead_letters_open": int(self._store.gauge("dead_letters_open")),
        }

    def history(
        self, metric: str, window: str, start: datetime | None, end: datetime | None, field: str | None
    ) -> dict[str, Any]:
        default = {"minute": timedelta(hours=1), "hour": timedelta(hours=24), "day": timedelta(days=30)}[
            window
        ]
        start, end = self._range(start, end, default)
        self.flush()
        points = []
        for started, values in self._store.series(metric, window, start, end):
            data = _fold(values)
            # a window's percentiles, read from its histogram, so charts need not know the buckets
            percentiles = {
                prefix: summary(data, prefix) for prefix in HISTOGRAMS if data.get(f"{prefix}.count")
            }
            if field is not None:
                data = Counter({field: data.get(field, 0)})
            points.append(
                {
                    "window_start": started,
                    "values": {k: round(v, 3) for k, v in sorted(data.items())},
                    "percentiles": percentiles,
                }
            )
        return {
            "metric": metric,
            "window": window,
            "from": window_start(start, window),
            "to": window_start(end, window),
            "points": points,
        }

    def per_subject(
        self,
        metric: str,
        start: datetime | None,
        end: datetime | None,
        good: str,
        bad: str,
        bad_within_good: bool = False,
        attempts: bool = False,
    ) -> dict[str, Any]:
        """Counts and success rate per subject (two Queries whatever their number).
        ``bad_within_good``: ``good`` counts every
        outcome (a schedule's runs include its failed runs), so success is (good - bad) / good.
        ``attempts``: also each subject's attempts and the failed ones among them (an endpoint
        that fails every other attempt delivers everything in the end: 100 % of deliveries, half
        of its attempts failed)."""
        start, end = self._range(start, end)
        totals, subjects, names = self.by_subject(metric, start, end)
        rows = []
        for subject, counts in sorted(subjects.items()):
            count = counts.get("latency_count", 0) or counts.get("duration_count", 0)
            total_ms = counts.get("latency_ms", 0) or counts.get("duration_ms", 0)
            rows.append(
                {
                    "id": subject,
                    "name": names.get(subject),
                    good: int(counts[good]),
                    bad: int(counts[bad]),
                    "success_rate": _rate(counts[good] - counts[bad], counts[bad])
                    if bad_within_good
                    else _rate(counts[good], counts[bad]),
                    "mean_ms": round(total_ms / count, 2) if count else None,
                }
            )
            if attempts:
                tried = int(counts["attempts"])
                rows[-1].update(attempts=tried, failed_attempts=max(0, tried - int(counts[good])))
        prefix = "latency" if metric == "webhooks" else "duration"
        return {"from": to_iso(start), "to": to_iso(end), "items": rows, "overall": summary(totals, prefix)}


def _fold(counts: Mapping[str, float]) -> Counter[str]:
    """Per-subject fields (``name|subject``) summed into their name."""
    folded: Counter[str] = Counter()
    for field, value in counts.items():
        folded[field.partition("|")[0]] += value
    return folded
