"""API keys: created with a role, shown once, stored hashed, revoked at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.ids import new_id
from chalicelib.domain.keys import ROLES, ApiKey, generate_key, hash_key
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import ValidationFailed
from chalicelib.store.api_keys import ApiKeyStore, require


class ApiKeyService:
    def __init__(
        self,
        store: ApiKeyStore,
        clock: Callable[[], datetime] = utcnow,
        publish: Callable[[str, dict[str, Any]], Any] | None = None,
        on_revoked: Callable[[str], Any] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._publish = publish
        self._on_revoked = on_revoked

    def create(
        self, name: str, role: str, key: str | None = None, rate_limits: dict[str, Any] | None = None
    ) -> tuple[ApiKey, str]:
        """Create a key; the secret returned with it is the only time it is ever shown."""
        if role not in ROLES:
            raise ValidationFailed(
                "Unknown role.", [{"field": "role", "problem": f"must be one of {', '.join(ROLES)}"}]
            )
        secret = key or generate_key()
        record = self._store.create(
            new_id("key"), hash_key(secret), name, role, to_iso(self._clock()), rate_limits
        )
        if self._publish is not None:
            self._publish("api_key.created", {"key_id": record.id, "name": name, "role": role})
        return record, secret

    def ensure(self, key: str, name: str, role: str) -> str:
        """Make sure ``key`` exists (idempotent across restarts); return its id."""
        existing = self._store.get_by_hash(hash_key(key))
        if existing is not None:
            return existing.id
        return self.create(name, role, key=key)[0].id

    def get(self, key_id: str) -> ApiKey:
        return require(self._store.get_by_id(key_id), key_id)

    def list(self, limit: int, before: str | None) -> tuple[list[ApiKey], str | None]:
        return self._store.list(limit, before)

    def revoke(self, key_id: str) -> None:
        """Idempotent: revoking a revoked key changes nothing and is not an error. The key's
        open WebSockets are closed (again on a repeat: one may have opened in between)."""
        record = require(self._store.get_by_id(key_id), key_id)
        if (
            record.revoked_at is None
            and self._store.revoke(record, to_iso(self._clock()))
            and self._publish is not None
        ):
            self._publish("api_key.revoked", {"key_id": key_id, "name": record.name, "role": record.role})
        if self._on_revoked is not None:
            self._on_revoked(key_id)
