"""Single-use WebSocket connect tickets, kept in the idempotency table under ``ticket:<hash>``.

Only the SHA-256 of a ticket is stored, with the hash of the API key it stands for (the key's
table is keyed by that hash, so redeeming re-checks the key with one consistent read).
"""

from __future__ import annotations

from pynamodb.exceptions import DeleteError, PutError, PynamoDBException

from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure, unavailable
from chalicelib.store.models import IdempotencyRecord

PREFIX = "ticket:"


class TicketStore:
    def __init__(self) -> None:
        self._model = bind(IdempotencyRecord, "idempotency")

    def put(self, ticket_hash: str, key_hash: str, created_at: str, expires_at: int) -> None:
        model = self._model
        try:
            # Condition: a new ticket (256 random bits: a clash is only ever a bug).
            model(
                key=PREFIX + ticket_hash, result_id=key_hash, created_at=created_at, expires_at=expires_at
            ).save(condition=model.key.does_not_exist())
        except PutError as exc:
            raise unavailable("idempotency") from exc

    def take(self, ticket_hash: str, now_epoch: int) -> str | None:
        """The key hash a live ticket stands for, removing the ticket; None if it is unknown,
        expired, or taken already (of two racing connects, one wins the delete)."""
        model = self._model
        try:
            record = model.get(PREFIX + ticket_hash, consistent_read=True)
        except model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("idempotency") from exc
        try:
            # Condition: still there: nobody redeemed it since the read.
            record.delete(condition=model.key.exists())
        except DeleteError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("idempotency") from exc
        # TTL deletes lazily (moto never): an expired ticket is refused on read
        return record.result_id if record.expires_at > now_epoch else None
