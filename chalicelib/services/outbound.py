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

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        try:
            checked = self._guard.check(request.url or "")
        except ForbiddenTarget as exc:
            raise ForbiddenRequest(exc) from exc
        default_port = 443 if checked.scheme == "https" else 80
        host = f"[{checked.host}]" if ":" in checked.host else checked.host
        request.headers["Host"] = host if checked.port == default_port else f"{host}:{checked.port}"
        request.pinned_address = checked.addresses[0]  # type: ignore[attr-defined]
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
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


def guarded_session(guard: OutboundGuard, pool_size: int = 10) -> requests.Session:
    """A pooled session that only reaches what ``guard`` allows; no proxies from the
    environment, no redirects followed."""
    session = NoRedirectSession()
    session.trust_env = False
    adapter = PinnedAdapter(guard, pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
