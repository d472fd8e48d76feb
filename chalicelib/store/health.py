"""The last health the tick saw (which dependencies were down), so it can tell a change: one
item in the idempotency table, replaced with a condition on what was read."""

from __future__ import annotations

import json

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure, unavailable
from chalicelib.store.models import IdempotencyRecord

KEY = "health:state"
KEEP_SECONDS = 365 * 86_400


class HealthStateStore:
    def __init__(self) -> None:
        self._model = bind(IdempotencyRecord, "idempotency")

    def get(self) -> list[str] | None:
        """The components down at the last look; None before the first one."""
        try:
            record = self._model.get(KEY, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("idempotency") from exc
        return list(json.loads(record.result_id))

    def replace(self, previous: list[str] | None, down: list[str], now_iso: str, now_epoch: int) -> bool:
        """Store ``down`` if the state is still ``previous``; False when another tick won."""
        model = self._model
        # Condition: nobody changed the state since we read it (first look: no item yet).
        condition = (
            model.key.does_not_exist() if previous is None else model.result_id == json.dumps(previous)
        )
        try:
            model(
                key=KEY, result_id=json.dumps(down), created_at=now_iso, expires_at=now_epoch + KEEP_SECONDS
            ).save(condition=condition)
        except PutError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("idempotency") from exc
        return True
