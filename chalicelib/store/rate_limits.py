"""Rate-limit buckets (GCRA) in DynamoDB, each request one atomic conditional write, plus an
in-memory twin for unit tests. Both answer the same call."""
from __future__ import annotations

import threading
from typing import Any

from chalicelib.domain.ratelimit import Policy, interval_ms, step
from chalicelib.errors import DependencyUnavailable


class DynamoBucketStore:
    """``admit`` is one UpdateItem while the bucket is not in a burst (its ``tat`` is in the
    past), and at most two in a burst; never a read, never a lost race to retry."""

    def __init__(self, dynamodb: Any = None, table: str | None = None) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def _client(self) -> tuple[Any, str]:
        if self._dynamodb is None or self._table is None:
            from chalicelib import aws  # noqa: PLC0415
            from chalicelib.config import get_settings  # noqa: PLC0415

            self._dynamodb = aws.client("dynamodb")
            self._table = get_settings().tables["rate_limits"]
        return self._dynamodb, self._table

    def admit(self, bucket: str, now_ms: int, policy: Policy, expires_at: int) -> tuple[bool, float]:
        """Take one request from ``bucket``; (allowed, its tat after: or as it is, when denied)."""
        dynamodb, table = self._client()
        interval = interval_ms(policy)
        key = {"bucket": {"S": bucket}}
        try:
            try:
                # Condition: the bucket is idle (no tat, or one in the past): it starts from now.
                dynamodb.update_item(
                    TableName=table, Key=key,
                    UpdateExpression="SET tat = :fresh, expires_at = :exp",
                    ConditionExpression="attribute_not_exists(tat) OR tat < :now",
                    ExpressionAttributeValues={":fresh": _n(now_ms + interval), ":now": _n(now_ms),
                                               ":exp": _n(expires_at)})
                return True, now_ms + interval
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass
            # Condition: in a burst, one more interval still fits within the window. tat only
            # grows, so the first condition's failure holds: this is the whole decision.
            limit = now_ms + policy.window_seconds * 1000 - interval
            try:
                answer = dynamodb.update_item(
                    TableName=table, Key=key,
                    UpdateExpression="SET tat = tat + :interval, expires_at = :exp",
                    ConditionExpression="tat <= :limit",
                    ExpressionAttributeValues={":interval": _n(interval), ":limit": _n(limit),
                                               ":exp": _n(expires_at)},
                    ReturnValues="UPDATED_NEW")
                return True, float(answer.get("Attributes", {}).get("tat", {}).get("N", limit))
            except dynamodb.exceptions.ConditionalCheckFailedException as exc:
                item = exc.response.get("Item") or {}
                return False, float(item.get("tat", {}).get("N", limit + interval))
        except DependencyUnavailable:
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("botocore", "boto3"):
                raise DependencyUnavailable("The rate-limit table could not be written.") from exc
            raise


def _n(value: float) -> dict[str, str]:
    return {"N": f"{value:.3f}"}


class MemoryBucketStore:
    """For unit tests only: one process's buckets, atomic as the DynamoDB store is."""

    def __init__(self) -> None:
        self.tats: dict[str, float] = {}
        self._lock = threading.Lock()

    def admit(self, bucket: str, now_ms: int, policy: Policy, expires_at: int) -> tuple[bool, float]:
        with self._lock:
            allowed, tat = step(self.tats.get(bucket), now_ms, policy)
            if allowed:
                self.tats[bucket] = tat
            return allowed, tat
