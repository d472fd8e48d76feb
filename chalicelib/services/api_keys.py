"""Creating API keys (the bootstrap admin key for now; the full API arrives with RBAC)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.ids import new_id
from chalicelib.domain.keys import ROLES, generate_key, hash_key
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import ValidationFailed
from chalicelib.store.api_keys import ApiKeyStore


class ApiKeyService:
    def __init__(self, store: ApiKeyStore, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def create(self, name: str, role: str, key: str | None = None) -> dict[str, Any]:
        """Create a key; the returned ``key`` is the only time the secret is ever shown."""
        if role not in ROLES:
            raise ValidationFailed(
                "Unknown role.", [{"field": "role", "problem": f"must be one of {', '.join(ROLES)}"}])
        secret = key or generate_key()
        key_id = new_id("key")
        created_at = to_iso(self._clock())
        self._store.create(key_id, hash_key(secret), name, role, created_at)
        return {"id": key_id, "key": secret, "name": name, "role": role, "created_at": created_at}

    def ensure(self, key: str, name: str, role: str) -> str:
        """Make sure ``key`` exists (idempotent across restarts); return its id."""
        existing = self._store.find_by_hash(hash_key(key))
        if existing is not None:
            return existing.id
        return self.create(name, role, key=key)["id"]
