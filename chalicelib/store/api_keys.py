"""API keys, stored as SHA-256 hashes only."""
from __future__ import annotations

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib.errors import Conflict, DependencyUnavailable
from chalicelib.store.base import bind
from chalicelib.store.models import ApiKeyRecord


class ApiKeyStore:
    def __init__(self) -> None:
        self._model = bind(ApiKeyRecord, "api_keys")

    def create(self, key_id: str, key_hash: str, name: str, role: str, created_at: str) -> None:
        record = self._model(
            id=key_id, key_hash=key_hash, name=name, role=role, created_at=created_at)
        try:
            # Condition: never overwrite an existing key id.
            record.save(condition=self._model.id.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(f"API key {key_id} already exists.") from exc
            raise DependencyUnavailable("The API keys table could not be written.") from exc

    def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        try:
            for record in self._model.by_hash.query(key_hash, limit=1):
                return record
        except PynamoDBException as exc:
            raise DependencyUnavailable("The API keys table could not be read.") from exc
        return None
