"""Server-side request forgery guard: outbound calls may only reach public addresses.

One guard for every HTTP request Conductor makes (webhook deliveries, retry-job and schedule
HTTP targets), applied when the URL is accepted and again at connect time, where the connection
goes to the very address that was checked (``services/outbound.py``).

Refused: non-http(s) schemes, URLs with credentials, unspecified (0.0.0.0, ::), private (10/8,
172.16/12, 192.168/16, fc00::/7), loopback, link-local (169.254/16, fe80::/10: cloud metadata),
multicast, carrier-grade NAT (100.64/10), reserved and other non-global ranges, and the IPv6
forms that carry an IPv4 address inside (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64) when
the address inside is refused — unless an allow-list names them (the local runtime and the tests
allow loopback). Denied endpoints (Conductor's own AWS endpoint when it is local) are refused
even when an allow-list would let them through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

CGNAT = ipaddress.ip_network("100.64.0.0/10")
#: IPv6 prefixes whose low 32 bits are an IPv4 address (RFC 6052 NAT64, RFC 4291 compatible).
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


#: The error type an attempt records when the guard refused its target (nothing was sent).
ERROR_TYPE = "ForbiddenTarget"


class ForbiddenTarget(ValueError):
    """The URL may not be called; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ForbiddenTarget(f"{host} does not resolve") from exc
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in net for net in NAT64) or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        found.append(low32)
    return found


def _reason_v4_or_v6(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "an unspecified (reserved) address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (e.g. cloud metadata)"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "a carrier-grade NAT address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def forbidden_reason(address: str) -> str | None:
    """Why ``address`` may not be called, or None when it is a public address."""
    ip = ipaddress.ip_address(address)
    for inner in embedded_ipv4(ip):
        reason = _reason_v4_or_v6(inner)
        if reason is not None:
            return f"{reason} ({inner}, inside an IPv6 address)"
    if isinstance(ip, ipaddress.IPv6Address) and (
        ip.sixtofour is not None or ip in NAT64[0] or ip in NAT64[1]
    ):
        return None  # the IPv4 address inside is public: 6to4 and NAT64 reach exactly it
    return _reason_v4_or_v6(ip)


def parse_networks(text: str | None) -> list[Network]:
    return [ipaddress.ip_network(part.strip()) for part in (text or "").split(",") if part.strip()]


@dataclass(frozen=True)
class Checked:
    """A URL that may be called: its host, port and the addresses allowed to reach it."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


@dataclass
class OutboundGuard:
    """The one policy for outbound HTTP: which URLs may be called and at which addresses."""

    allow: Sequence[Network] = ()
    require_https: bool = False
    #: (address, port) pairs never called, allow-list or not: Conductor's own local endpoints
    deny: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    #: resolves a host name; None means ``system_resolver`` as it is when called (tests swap it)
    resolver: Resolver | None = None

    def check(self, url: str) -> Checked:
        """Resolve once and check every address; ``ForbiddenTarget`` says why a URL is refused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:  # e.g. a port over 65535
            raise ForbiddenTarget(f"is not a valid URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ForbiddenTarget("must be an absolute http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise ForbiddenTarget("must not carry credentials (send them as a header)")
        if self.require_https and parts.scheme != "https":
            raise ForbiddenTarget("must use https in this stage")
        port = port or (443 if parts.scheme == "https" else 80)
        resolve = self.resolver or system_resolver
        addresses = resolve(parts.hostname, port)
        if not addresses:
            raise ForbiddenTarget(f"{parts.hostname} does not resolve")
        for address in addresses:
            self._check_address(parts.hostname, address, port)
        return Checked(parts.scheme, parts.hostname, port, tuple(addresses))

    def _check_address(self, host: str, address: str, port: int) -> None:
        ip = ipaddress.ip_address(address)
        if (str(ip), port) in self.deny:
            raise ForbiddenTarget(f"{host} resolves to {address}:{port}, one of Conductor's own endpoints")
        if any(ip in network for network in self.allow):
            return
        reason = forbidden_reason(address)
        if reason is not None:
            raise ForbiddenTarget(f"{host} resolves to {address}, {reason}")


def endpoint_of(url: str | None) -> set[tuple[str, int]]:
    """The (address, port) pairs of a local endpoint URL (an IP literal or localhost), else none."""
    if not url:
        return set()
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return set()
    host = parts.hostname or ""
    if host == "localhost":
        return {("127.0.0.1", port), ("::1", port)}
    try:
        return {(str(ipaddress.ip_address(host)), port)}
    except ValueError:
        return set()
