"""Counters in time windows: one item per metric and hour, one attribute per counted field.

Writes are ``UpdateItem ADD`` (atomic, no read); a range is one Query on the metric's partition.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import DependencyUnavailable

RETENTION = timedelta(days=90)


def hour_window(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:00Z")


class MetricsStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def add(self, metric: str, moment: datetime, fields: Mapping[str, float]) -> None:
        if not fields:
            return
        names = {f"#f{i}": f"n:{name}" for i, name in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": {"N": str(v)} for i, v in enumerate(fields.values())}
        values[":ttl"] = {"N": str(int((moment + RETENTION).timestamp()))}
        names["#ttl"] = "expires_at"
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"metric": {"S": metric}, "window_start": {"S": hour_window(moment)}},
                UpdateExpression="ADD " + ", ".join(f"#f{i} :v{i}" for i in range(len(fields)))
                                 + " SET #ttl = :ttl",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("The metrics table could not be written.") from exc

    def total(self, metric: str, start: datetime, end: datetime) -> Counter[str]:
        """Every field summed over the hour windows from ``start`` to ``end``."""
        totals: Counter[str] = Counter()
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "metric = :m AND window_start BETWEEN :a AND :b",
            "ExpressionAttributeValues": {":m": {"S": metric}, ":a": {"S": hour_window(start)},
                                          ":b": {"S": hour_window(end)}},
        }
        try:
            for page in self._db.get_paginator("query").paginate(**request):
                for item in page["Items"]:
                    for name, value in item.items():
                        if name.startswith("n:"):
                            totals[name[2:]] += float(value["N"])
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("The metrics table could not be read.") from exc
        return totals
