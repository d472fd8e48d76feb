"""Who is calling, and may they: API keys and roles."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain.keys import KEY_PREFIX, ROLES, hash_key
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.errors import Forbidden, Unauthorized

if TYPE_CHECKING:  # pragma: no cover - the route guard imports this module on cold start
    from chalicelib.store.api_keys import ApiKeyStore
    from chalicelib.store.tickets import TicketStore

TICKET_PREFIX = "wst_"
#: Long enough to open a socket after asking for it, short enough that a logged URL is stale.
TICKET_TTL = timedelta(seconds=60)

#: How long a container trusts a key it looked up. A key revoked in another container is refused
#: here at most this much later (in the container that revoked it: at once); a request pays no
#: read for its key while it is cached.
KEY_CACHE_SECONDS = 10.0
KEY_CACHE_SIZE = 1000

#: Each role can do everything the roles before it can.
ROLE_RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}  # viewer 0 .. admin 2


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str
    rate_limits: dict[str, Any] | None = None
    #: the SHA-256 of the key (what its table is keyed by); never the key itself
    key_hash: str = ""


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
    def __init__(
        self,
        store: ApiKeyStore,
        tickets: TicketStore | None = None,
        clock: Callable[[], datetime] = utcnow,
        cache_seconds: float = KEY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._tickets = tickets
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        #: key hash -> (principal, until): valid keys only (a new key works at once)
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def identify(self, key: str | None) -> Principal | None:
        """The principal a key belongs to; None for no key, an unknown one or a revoked one."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        key_hash = hash_key(key)
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(key_hash)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = self._by_hash(key_hash)
        with self._lock:
            if principal is None:
                self._cache.pop(key_hash, None)
            else:
                self._cache[key_hash] = (principal, now + self._cache_seconds)
                self._cache.move_to_end(key_hash)
                while len(self._cache) > KEY_CACHE_SIZE:
                    self._cache.popitem(last=False)
        return principal

    def forget(self, key_id: str) -> None:
        """A key was revoked (in this container): refuse it from the next request on."""
        with self._lock:
            for key_hash in [h for h, (p, _) in self._cache.items() if p.key_id == key_id]:
                del self._cache[key_hash]

    def _by_hash(self, key_hash: str) -> Principal | None:
        record = self._store.get_by_hash(key_hash)
        if record is None or record.revoked_at is not None:
            return None
        return Principal(record.id, record.name, record.role, record.rate_limits, key_hash)

    def issue_ticket(self, principal: Principal) -> tuple[str, str]:
        """A single-use WebSocket connect ticket for ``principal`` and when it expires: the key
        itself never has to travel in a URL, where access logs and proxies keep it."""
        assert self._tickets is not None, "tickets need a TicketStore"
        now = self._clock()
        ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
        expires = now + TICKET_TTL
        self._tickets.put(hash_key(ticket), principal.key_hash, to_iso(now), int(expires.timestamp()))
        return ticket, to_iso(expires)

    def redeem_ticket(self, ticket: str | None) -> Principal | None:
        """The principal of a live, unused ticket whose key is still valid; the ticket is spent."""
        if self._tickets is None or not ticket or not ticket.startswith(TICKET_PREFIX) or len(ticket) > 100:
            return None
        key_hash = self._tickets.take(hash_key(ticket), int(self._clock().timestamp()))
        return self._by_hash(key_hash) if key_hash else None


def authorize(principal: Principal | None, required_role: str) -> Principal:
    """401 without a valid key; 403 when the key's role ranks below ``required_role``."""
    if principal is None:
        raise Unauthorized("A valid API key is required (Authorization: Bearer <key>).")
    if ROLE_RANK[principal.role] < ROLE_RANK[required_role]:
        raise Forbidden(f"This needs the {required_role} role; this key has {principal.role}.")
    return principal
