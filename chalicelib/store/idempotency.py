"""Idempotency keys: the first request with a key wins; later ones learn what it produced."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib.store.base import bind
from chalicelib.store.common import Write, conditional_failure, unavailable
from chalicelib.store.models import IdempotencyRecord


class IdempotencyStore:
    def __init__(self) -> None:
        self._model = bind(IdempotencyRecord, "idempotency")

    def claim(self, key: str, result_id: str, created_at: str, expires_at: int, now_epoch: int) -> str | None:
        """Claim ``key`` for ``result_id``; if it was claimed before, return that result's id."""
        model = self._model
        try:
            # Condition: the key is new, or its earlier claim has expired (TTL deletes lazily).
            model(key=key, result_id=result_id, created_at=created_at, expires_at=expires_at).save(
                condition=model.key.does_not_exist() | (model.expires_at < now_epoch)
            )
            return None
        except PutError as exc:
            if not conditional_failure(exc):
                raise unavailable("idempotency") from exc
        try:
            return model.get(key, consistent_read=True).result_id
        except PynamoDBException as exc:
            raise unavailable("idempotency") from exc

    def claim_write(
        self, key: str, result_id: str, created_at: str, expires_at: int, now_epoch: int
    ) -> Write:
        """``claim`` as one write of a transaction (``store.common.transact``): named
        "idempotency" when the key was claimed before; ``result_of`` then says for what."""
        model = self._model
        return Write(
            model(key=key, result_id=result_id, created_at=created_at, expires_at=expires_at),
            # Condition: the key is new, or its earlier claim has expired.
            model.key.does_not_exist() | (model.expires_at < now_epoch),
            "idempotency",
        )

    def result_of(self, key: str) -> str | None:
        """What the claim of ``key`` produced (None: no claim)."""
        try:
            return self._model.get(key, consistent_read=True).result_id
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("idempotency") from exc

    def once(self, key: str, now: datetime, ttl: timedelta) -> bool:
        """Claim ``key`` for ``ttl``; False if it was claimed already (the work is done once)."""
        return (
            self.claim(key, key, now.isoformat(), int((now + ttl).timestamp()), int(now.timestamp())) is None
        )
