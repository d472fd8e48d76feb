"""API keys, stored under the SHA-256 of the key; the key itself is never written anywhere."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError

from chalicelib.domain.keys import ApiKey
from chalicelib.errors import Conflict, DependencyUnavailable, NotFound
from chalicelib.store.base import bind
from chalicelib.store.mapping import entity_of
from chalicelib.store.models import ApiKeyRecord

LIST_PK = "key"


def _conditional_failure(exc: PynamoDBException) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class ApiKeyStore:
    def __init__(self) -> None:
        self._model = bind(ApiKeyRecord, "api_keys")

    def create(
        self,
        key_id: str,
        key_hash: str,
        name: str,
        role: str,
        created_at: str,
        rate_limits: dict[str, Any] | None = None,
    ) -> ApiKey:
        record = self._model(
            key_hash=key_hash,
            id=key_id,
            name=name,
            role=role,
            created_at=created_at,
            list_pk=LIST_PK,
            list_sk=f"{created_at}#{key_id}",
            rate_limits=rate_limits,
        )
        try:
            # Condition: never overwrite a key with the same hash (256 random bits: only a bug).
            record.save(condition=self._model.key_hash.does_not_exist())
        except PutError as exc:
            if _conditional_failure(exc):
                raise Conflict("This API key already exists.") from exc
            raise DependencyUnavailable("The API keys table could not be written.") from exc
        return entity_of(ApiKey, record)

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        """One strongly consistent read: a revoked key is refused on the very next request."""
        try:
            return entity_of(ApiKey, self._model.get(key_hash, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable("The API keys table could not be read.") from exc

    def get_by_id(self, key_id: str) -> ApiKey | None:
        try:
            for record in self._model.by_id.query(key_id, limit=1):
                return entity_of(ApiKey, record)
        except PynamoDBException as exc:
            raise DependencyUnavailable("The API keys table could not be read.") from exc
        return None

    def list(self, limit: int, before: str | None) -> tuple[list[ApiKey], str | None]:
        """Newest first; ``before`` is the ``list_sk`` of the previous page's last key."""
        condition = self._model.list_sk < before if before is not None else None
        records: list[ApiKeyRecord] = []
        try:
            for record in self._model.by_created.query(
                LIST_PK, condition, scan_index_forward=False, page_size=limit + 1
            ):
                if len(records) == limit:
                    return [entity_of(ApiKey, r) for r in records], records[-1].list_sk
                records.append(record)
        except PynamoDBException as exc:
            raise DependencyUnavailable("The API keys table could not be read.") from exc
        return [entity_of(ApiKey, r) for r in records], None

    def revoke(self, key: ApiKey, revoked_at: str) -> bool:
        """Mark a key revoked; False if it already was (the first revocation time is kept)."""
        try:
            # Condition: the key exists and is not revoked yet.
            self._model(key.key_hash).update(
                actions=[self._model.revoked_at.set(revoked_at)],
                condition=self._model.key_hash.exists() & self._model.revoked_at.does_not_exist(),
            )
        except UpdateError as exc:
            if _conditional_failure(exc):
                return False
            raise DependencyUnavailable("The API keys table could not be written.") from exc
        return True


def require(record: ApiKey | None, key_id: str) -> ApiKey:
    if record is None:
        raise NotFound(f"No API key {key_id}.")
    return record
