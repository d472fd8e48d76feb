"""Rate-limit buckets (GCRA) in DynamoDB, each request one atomic conditional write, plus an
in-memory twin for unit tests. Both answer the same call."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.domain.ratelimit import Policy, interval_ms, step
from chalicelib.errors import DependencyUnavailable


class DynamoBucketStore:
    """``admit`` is one conditional UpdateItem, never a read and never a lost race to retry.

    A bucket is either idle (its ``tat`` in the past: it starts again from now) or in a burst
    (one more interval must fit within the window). Each case is one conditional write; the
    container tries first the case it last saw the bucket in, so a steady caller pays one write
    a request, and only a bucket that changed case since costs a second.
    """

    def __init__(self, dynamodb: Any = None, table: str | None = None) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._last_tat: dict[str, float] = {}  # bucket -> tat this container last wrote or saw

    def _client(self) -> tuple[Any, str]:
        if self._dynamodb is None or self._table is None:
            from chalicelib import aws  # noqa: PLC0415
            from chalicelib.config import get_settings  # noqa: PLC0415

            self._dynamodb = aws.client("dynamodb")
            self._table = get_settings().tables["rate_limits"]
        return self._dynamodb, self._table

    def admit(self, bucket: str, now_ms: int, policy: Policy, expires_at: int) -> tuple[bool, float]:
        """Take one request from ``bucket``; (allowed, its tat after: or as it is, when denied)."""
        cases = (
            (self._burst, self._idle)
            if self._last_tat.get(bucket, 0.0) > now_ms
            else (self._idle, self._burst)
        )  # the case this container last saw the bucket in first
        try:
            # a case's write fails only when the bucket is in the other case; a third write is
            # needed only if another caller moved it back in between (each move is a request)
            answer = (
                cases[0](bucket, now_ms, policy, expires_at)
                or cases[1](bucket, now_ms, policy, expires_at)
                or cases[0](bucket, now_ms, policy, expires_at)
                or (False, float(now_ms + policy.window_seconds * 1000))
            )
        except DependencyUnavailable:
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("botocore", "boto3"):
                raise DependencyUnavailable("The rate-limit table could not be written.") from exc
            raise
        if len(self._last_tat) > 10_000:
            self._last_tat.clear()
        self._last_tat[bucket] = answer[1]
        return answer

    def _idle(self, bucket: str, now_ms: int, policy: Policy, expires_at: int) -> tuple[bool, float] | None:
        """The bucket restarts from now; None when it is in a burst."""
        dynamodb, table = self._client()
        interval = interval_ms(policy)
        try:
            # Condition: the bucket is idle (no tat, or one in the past): it starts from now.
            dynamodb.update_item(
                TableName=table,
                Key={"bucket": {"S": bucket}},
                UpdateExpression="SET tat = :fresh, expires_at = :exp",
                ConditionExpression="attribute_not_exists(tat) OR tat < :now",
                ExpressionAttributeValues={
                    ":fresh": _n(now_ms + interval),
                    ":now": _n(now_ms),
                    ":exp": _n(expires_at),
                },
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return True, now_ms + interval

    def _burst(self, bucket: str, now_ms: int, policy: Policy, expires_at: int) -> tuple[bool, float] | None:
        """One more interval, if it fits within the window; None when the bucket is idle."""
        dynamodb, table = self._client()
        interval = interval_ms(policy)
        limit = now_ms + policy.window_seconds * 1000 - interval
        try:
            # Condition: in a burst (tat not in the past), one more interval still fits.
            answer = dynamodb.update_item(
                TableName=table,
                Key={"bucket": {"S": bucket}},
                UpdateExpression="SET tat = tat + :interval, expires_at = :exp",
                ConditionExpression="tat BETWEEN :now AND :limit",
                ExpressionAttributeValues={
                    ":interval": _n(interval),
                    ":limit": _n(limit),
                    ":now": _n(now_ms),
                    ":exp": _n(expires_at),
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException as exc:
            tat = (exc.response.get("Item") or {}).get("tat", {}).get("N")
            if tat is None or float(tat) < now_ms:
                return None  # idle: the idle write decides
            return False, float(tat)  # full: denied, the bucket as it is
        return True, float(answer.get("Attributes", {}).get("tat", {}).get("N", limit))


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
