"""Who is calling, and may they: API keys and roles."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain.keys import KEY_PREFIX, ROLES, hash_key
from chalicelib.errors import Forbidden, Unauthorized

if TYPE_CHECKING:  # pragma: no cover - the route guard imports this module on cold start
    from chalicelib.store.api_keys import ApiKeyStore

#: Each role can do everything the roles before it can.
ROLE_RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}  # viewer 0 .. admin 2


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str
    rate_limits: dict[str, Any] | None = None


def key_from_headers(headers: Any) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    if headers is None:
        return None
    authorization = headers.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key else None


class Authenticator:
    def __init__(self, store: ApiKeyStore) -> None:
        self._store = store

    def identify(self, key: str | None) -> Principal | None:
        """The principal a key belongs to; None for no key, an unknown one or a revoked one."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        record = self._store.get_by_hash(hash_key(key))
        if record is None or record.revoked_at is not None:
            return None
        return Principal(record.id, record.name, record.role, record.rate_limits)


def authorize(principal: Principal | None, required_role: str) -> Principal:
    """401 without a valid key; 403 when the key's role ranks below ``required_role``."""
    if principal is None:
        raise Unauthorized("A valid API key is required (Authorization: Bearer <key>).")
    if ROLE_RANK[principal.role] < ROLE_RANK[required_role]:
        raise Forbidden(f"This needs the {required_role} role; this key has {principal.role}.")
    return principal
