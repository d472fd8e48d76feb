"""Token buckets in DynamoDB, updated with optimistic conditional writes, plus an in-memory twin
for unit tests. Both answer the same two calls."""
from __future__ import annotations

import threading

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib.domain.ratelimit import BucketState
from chalicelib.errors import DependencyUnavailable
from chalicelib.store.base import bind
from chalicelib.store.models import RateLimitRecord


class DynamoBucketStore:
    def __init__(self) -> None:
        self._model = bind(RateLimitRecord, "rate_limits")

    def get(self, bucket: str) -> BucketState | None:
        try:
            record = self._model.get(bucket, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable("The rate-limit table could not be read.") from exc
        return BucketState(tokens=float(record.tokens), updated_ms=int(record.updated_ms))

    def replace(self, bucket: str, new: BucketState, expected: BucketState | None,
                expires_at: int) -> bool:
        """Write ``new`` only if the bucket still holds ``expected``; False if someone was first."""
        model = self._model
        if expected is None:
            # Condition: nobody created this bucket since we read it.
            condition = model.bucket.does_not_exist()
        else:
            # Condition: the bucket is exactly as we read it (same refill time and tokens).
            condition = (model.updated_ms == expected.updated_ms) & (model.tokens == expected.tokens)
        record = model(bucket=bucket, tokens=new.tokens, updated_ms=new.updated_ms,
                       expires_at=expires_at)
        try:
            record.save(condition=condition)
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise DependencyUnavailable("The rate-limit table could not be written.") from exc
        return True


class MemoryBucketStore:
    """For unit tests only: one process's buckets, with the same compare-and-set semantics."""

    def __init__(self) -> None:
        self._buckets: dict[str, BucketState] = {}
        self._lock = threading.Lock()

    def get(self, bucket: str) -> BucketState | None:
        with self._lock:
            return self._buckets.get(bucket)

    def replace(self, bucket: str, new: BucketState, expected: BucketState | None,
                expires_at: int) -> bool:
        with self._lock:
            if self._buckets.get(bucket) != expected:
                return False
            self._buckets[bucket] = new
            return True
