"""Counters in time windows: one item per metric, window size and window start, one attribute
per counted field. Writes are ``UpdateItem ADD`` (atomic, no read); a range is one Query.

A subject's counters (a service's, a schedule's, an endpoint's) have items of their own, one per
hour: ``metric = "<metric>#subjects#hour"``, ``window_start = "<hour>|<subject>"``. A window's
item then holds only the metric's totals (a bounded set of fields), so no count is ever refused
for DynamoDB's 400 KB item limit however many subjects there are, and every subject of a range
is one Query (newest hours' items side by side).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import DependencyUnavailable

#: window -> (format of its start, how long its items are kept)
WINDOWS: dict[str, tuple[str, timedelta]] = {
    "minute": ("%Y-%m-%dT%H:%M:00Z", timedelta(days=2)),
    "hour": ("%Y-%m-%dT%H:00:00Z", timedelta(days=35)),
    "day": ("%Y-%m-%dT00:00:00Z", timedelta(days=400)),
}
GAUGES = "gauge"
#: fields one UpdateItem adds (DynamoDB caps an update expression at 4 KB)
FIELDS_PER_WRITE = 100  # a window that never rolls over (levels such as open dead letters)


def window_start(moment: datetime, window: str) -> str:
    return moment.strftime(WINDOWS[window][0])


class MetricsStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def _add(
        self, key: dict[str, Any], fields: Mapping[str, float], ttl: int | None, label: str | None = None
    ) -> None:
        names = {f"#f{i}": f"n:{name}" for i, name in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": {"N": str(v)} for i, v in enumerate(fields.values())}
        expression = "ADD " + ", ".join(f"#f{i} :v{i}" for i in range(len(fields)))
        sets = []
        if ttl is not None:
            names["#ttl"], values[":ttl"] = "expires_at", {"N": str(ttl)}
            sets.append("#ttl = :ttl")
        if label is not None:  # a subject's name, beside its counts
            names["#label"], values[":label"] = "label", {"S": label}
            sets.append("#label = :label")
        if sets:
            expression += " SET " + ", ".join(sets)
        try:
            self._db.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("The metrics table could not be written.") from exc

    def add(
        self,
        metric: str,
        moment: datetime,
        fields: Mapping[str, float],
        windows: Iterable[str] = ("minute", "hour", "day"),
    ) -> None:
        """Count ``fields`` in each window containing ``moment`` (one UpdateItem per window)."""
        if not fields:
            return
        names = list(fields)
        for window in windows:
            fmt, keep = WINDOWS[window]
            for i in range(0, len(names), FIELDS_PER_WRITE):  # an expression holds 4 KB at most
                self._add(
                    {"metric": {"S": f"{metric}#{window}"}, "window_start": {"S": moment.strftime(fmt)}},
                    {n: fields[n] for n in names[i : i + FIELDS_PER_WRITE]},
                    int((moment + keep).timestamp()),
                )

    def add_subjects(
        self,
        metric: str,
        moment: datetime,
        by_subject: Mapping[str, Mapping[str, float]],
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Each subject's counters in the hour containing ``moment`` (an UpdateItem each), and its
        name where ``labels`` gives one."""
        fmt, keep = WINDOWS["hour"]
        hour, ttl = moment.strftime(fmt), int((moment + keep).timestamp())
        for subject, fields in by_subject.items():
            names = list(fields)
            for i in range(0, len(names), FIELDS_PER_WRITE):
                self._add(
                    {"metric": {"S": f"{metric}#subjects#hour"}, "window_start": {"S": f"{hour}|{subject}"}},
                    {n: fields[n] for n in names[i : i + FIELDS_PER_WRITE]},
                    ttl,
                    (labels or {}).get(subject) if i == 0 else None,
                )

    def subjects(
        self, metric: str, start: datetime, end: datetime
    ) -> tuple[dict[str, Counter[str]], dict[str, str]]:
        """Every subject's counters summed over the hours from ``start`` to ``end``, and each
        one's latest name (one Query, paged by DynamoDB's 1 MB)."""
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "metric = :m AND window_start BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":m": {"S": f"{metric}#subjects#hour"},
                ":a": {"S": window_start(start, "hour") + "|"},
                ":b": {"S": window_start(end, "hour") + "|\uffff"},
            },
        }
        found: dict[str, Counter[str]] = {}
        labels: dict[str, str] = {}
        try:
            for page in self._db.get_paginator("query").paginate(**request):
                for item in page["Items"]:  # oldest hour first: a later name wins
                    subject = item["window_start"]["S"].partition("|")[2]
                    if "label" in item:
                        labels[subject] = item["label"]["S"]
                    values = found.setdefault(subject, Counter())
                    for name, value in item.items():
                        if name.startswith("n:"):
                            values[name[2:]] += float(value["N"])
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("The metrics table could not be read.") from exc
        return found, labels

    def adjust_gauge(self, name: str, delta: float) -> None:
        self._add({"metric": {"S": GAUGES}, "window_start": {"S": name}}, {"value": delta}, None)

    def gauge(self, name: str) -> float:
        try:
            item = self._db.get_item(
                TableName=self._table,
                ConsistentRead=True,
                Key={"metric": {"S": GAUGES}, "window_start": {"S": name}},
            ).get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("The metrics table could not be read.") from exc
        return float(item.get("n:value", {}).get("N", 0))

    def series(
        self, metric: str, window: str, start: datetime, end: datetime
    ) -> list[tuple[str, Counter[str]]]:
        """Each window from ``start`` to ``end`` that has data, oldest first (one Query)."""
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "metric = :m AND window_start BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":m": {"S": f"{metric}#{window}"},
                ":a": {"S": window_start(start, window)},
                ":b": {"S": window_start(end, window)},
            },
        }
        rows: list[tuple[str, Counter[str]]] = []
        try:
            for page in self._db.get_paginator("query").paginate(**request):
                for item in page["Items"]:
                    values: Counter[str] = Counter()
                    for name, value in item.items():
                        if name.startswith("n:"):
                            values[name[2:]] += float(value["N"])
                    rows.append((item["window_start"]["S"], values))
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("The metrics table could not be read.") from exc
        return rows

    def total(self, metric: str, start: datetime, end: datetime, window: str = "hour") -> Counter[str]:
        """Every field summed over the windows from ``start`` to ``end``."""
        totals: Counter[str] = Counter()
        for _, values in self.series(metric, window, start, end):
            totals.update(values)
        return totals
