"""The HTTP session every outbound request goes through: checked, pinned, never redirected.

``PinnedAdapter`` resolves the host once, checks every address with the ``OutboundGuard`` and
connects to the first checked address, sending the original ``Host`` (and, for https, the original
name for SNI and certificate checks). There is no second DNS lookup between the check and the
connection, so a name that re-binds to a private address after the check gains nothing.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from chalicelib.domain.ssrf import ForbiddenTarget, OutboundGuard


class ForbiddenRequest(requests.RequestException):
    """The guard refused the request before any connection was made."""

    def __init__(self, reason: ForbiddenTarget) -> None:
        super().__init__(str(reason))
        self.reason = reason


class PinnedAdapter(HTTPAdapter):
    def __init__(self, guard: OutboundGuard, pool_size: int = 10) -> None:
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._guard = guard

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            checked = self._guard.check(request.url or "")
        except ForbiddenTarget as exc:
            raise ForbiddenRequest(exc) from exc
        default_port = 443 if checked.scheme == "https" else 80
        host = f"[{checked.host}]" if ":" in checked.host else checked.host
        request.headers["Host"] = host if checked.port == default_port else f"{host}:{checked.port}"
        request.pinned_address = checked.addresses[0]  # type: ignore[attr-defined]
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pinned = getattr(request, "pinned_address", None)
        if pinned is None:  # only send() builds connections, and it always pins
            raise ForbiddenRequest(ForbiddenTarget("no checked address to connect to"))
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
            pool_kwargs["assert_hostname"] = host_params["host"]
        host_params["host"] = pinned
        return host_params, pool_kwargs


class NoRedirectSession(requests.Session):
    """A redirect could point anywhere: it is answered as it came, never followed."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def _chain(exc: BaseException) -> list[BaseException]:
    """An exception and what it wraps (requests and urllib3 nest their causes in args/reason)."""
    seen: list[BaseException] = []
    queue: list[BaseException | None] = [exc]
    while queue and len(seen) < 12:
        item = queue.pop(0)
        if item is None or item in seen:
            continue
        seen.append(item)
        queue += [
            getattr(item, "reason", None),
            item.__cause__,
            item.__context__,
            *(a for a in item.args if isinstance(a, BaseException)),
        ]
    return seen


def describe(exc: requests.RequestException, url: str) -> str:
    """What went wrong, as a person reads it: ``Connection refused (127.0.0.1:18555)``, not
    ``HTTPConnectionPool(host=..., port=...): Max retries exceeded ...``."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    where = f"{parts.hostname}:{port}"
    chain = _chain(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return f"Connecting timed out ({where})"
    if isinstance(exc, requests.ReadTimeout):
        return f"No answer in time ({where})"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS handshake failed ({where})"
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return f"Connection refused ({where})"
        if isinstance(item, ConnectionResetError):
            return f"Connection reset by the server ({where})"
        if isinstance(item, TimeoutError):
            return f"Timed out ({where})"
    innermost = chain[-1]
    return f"{type(innermost).__name__}: {str(innermost)[:300]} ({where})"


def guarded_session(guard: OutboundGuard, pool_size: int = 10) -> requests.Session:
    """A pooled session that only reaches what ``guard`` allows; no proxies from the
    environment, no redirects followed."""
    session = NoRedirectSession()
    session.trust_env = False
    adapter = PinnedAdapter(guard, pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
