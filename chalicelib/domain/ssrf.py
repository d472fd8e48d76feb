"""Server-side request forgery guard: webhooks may only reach public addresses.

Refused: private (10/8, 172.16/12, 192.168/16), loopback, link-local (169.254/16, fe80::/10,
cloud metadata), multicast, CGNAT (100.64/10), IPv6 unique-local (fc00::/7), unspecified and
reserved ranges — unless an allow-list names them (the local runtime and the tests allow
127.0.0.0/8). Checked at registration and again right before each connection.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

CGNAT = ipaddress.ip_network("100.64.0.0/10")
Resolver = Callable[[str, int], list[str]]


class ForbiddenTarget(ValueError):
    """The URL may not be called; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ForbiddenTarget(f"{host} does not resolve") from exc
    return sorted({info[4][0] for info in infos})


def forbidden_reason(address: str) -> str | None:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "a reserved address"
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
    return None


def check_url(url: str, allow: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
              require_https: bool, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses ``url`` resolves to, if every one may be called; else ``ForbiddenTarget``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForbiddenTarget("must be an absolute http(s) URL")
    if require_https and parts.scheme != "https":
        raise ForbiddenTarget("must use https in this stage")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise ForbiddenTarget(f"{parts.hostname} does not resolve")
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if any(ip in network for network in allow):
            continue
        reason = forbidden_reason(address)
        if reason is not None:
            raise ForbiddenTarget(f"{parts.hostname} resolves to {address}, {reason}")
    return addresses


def parse_networks(text: str | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip()) for part in (text or "").split(",") if part.strip()]
