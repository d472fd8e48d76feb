from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.domain.signing import SignatureError, new_secret, sign, signed_headers, verify
from chalicelib.domain.ssrf import (
    ForbiddenTarget,
    OutboundGuard,
    endpoint_of,
    forbidden_reason,
)

BODY = '{"id":"evt_1","type":"webhook.test","timestamp":"2026-11-29T10:00:00.000Z","data":{}}'


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    # A library written by others agrees with our signatures
    secret = new_secret()
    now = 1_795_950_000
    headers = signed_headers([secret], "dlv_1", now, BODY)
    lib = Webhook(secret)
    # the library checks freshness against the wall clock; pin it to our timestamp
    lib._Webhook__verify_timestamp = lambda ts: datetime.fromtimestamp(int(ts), tz=UTC)  # type: ignore[attr-defined]
    assert lib.verify(BODY, headers) == json.loads(BODY)
    verify(secret, headers, BODY, now)


def test_rotation_sends_both_signatures_and_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers([new, old], "dlv_2", 100, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, BODY, 100)
    verify(new, headers, BODY, 100)
    with pytest.raises(SignatureError):
        verify(new_secret(), headers, BODY, 100)


def test_the_key_is_the_decoded_secret() -> None:
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            '{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize("bad", [{}, {"webhook-id": "x", "webhook-timestamp": "1"}])
def test_missing_headers_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify(new_secret(), bad, BODY, 1)


def test_stale_timestamps_are_refused() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "dlv_3", 1000, BODY)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(secret, headers, BODY, 1000 + 301)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("100.64.0.1", "carrier-grade"),
        ("224.0.0.1", "multicast"),
        ("fc00::1", "private"),
        ("fe80::1", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", "reserved"),
        ("::1", "loopback"),
    ],
)
def test_forbidden_addresses(address: str, reason: str) -> None:
    assert reason in (forbidden_reason(address) or "")


def test_public_addresses_pass() -> None:
    assert forbidden_reason("93.184.216.34") is None
    assert forbidden_reason("2606:4700::1111") is None


def test_a_hostname_resolving_to_loopback_is_refused_unless_allowed() -> None:
    resolver = lambda host, port: ["127.0.0.1"]  # noqa: E731
    with pytest.raises(ForbiddenTarget, match="loopback"):
        OutboundGuard([], False, resolver=resolver).check("http://sneaky.example.com/hook")
    allowed = [ipaddress.ip_network("127.0.0.0/8")]
    assert OutboundGuard(allowed, False, resolver=resolver).check(
        "http://sneaky.example.com/hook"
    ).addresses == ("127.0.0.1",)


def test_https_is_required_where_asked_and_urls_must_be_absolute() -> None:
    resolver = lambda host, port: ["93.184.216.34"]  # noqa: E731
    with pytest.raises(ForbiddenTarget, match="https"):
        OutboundGuard([], True, resolver=resolver).check("http://example.com/")
    with pytest.raises(ForbiddenTarget, match="absolute"):
        OutboundGuard([], False, resolver=resolver).check("/relative")
    assert OutboundGuard([], True, resolver=resolver).check("https://example.com/").addresses == (
        "93.184.216.34",
    )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of 169.254.169.254
        ("2002:0a00:0001::1", "private"),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo, client 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of the metadata address
        ("::a9fe:a9fe", "link-local"),  # IPv4-compatible
        ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped
        ("::", "reserved"),
        ("198.51.100.7", "private"),  # documentation range (Python counts it as private)
    ],
)
def test_ipv6_forms_of_blocked_ranges_are_refused(address: str, reason: str) -> None:
    assert reason in (forbidden_reason(address) or "")


def test_6to4_and_nat64_of_a_public_address_pass() -> None:
    assert forbidden_reason("2002:5db8:d822::1") is None  # 6to4 of 93.184.216.34
    assert forbidden_reason("64:ff9b::5db8:d822") is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/file", "http(s)"),
        ("file:///etc/passwd", "http(s)"),
        ("gopher://example.com:70/", "http(s)"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://example.com:99999/", "valid URL"),
    ],
)
def test_only_plain_http_urls_are_accepted(url: str, words: str) -> None:
    guard = OutboundGuard(resolver=lambda host, port: ["93.184.216.34"])
    with pytest.raises(ForbiddenTarget) as refused:
        guard.check(url)
    assert words in str(refused.value)


def test_conductors_own_endpoints_are_refused_even_on_an_allowed_network() -> None:
    guard = OutboundGuard(
        allow=[ipaddress.ip_network("127.0.0.0/8")],
        deny=frozenset(endpoint_of("http://127.0.0.1:5000")),
        resolver=lambda host, port: ["127.0.0.1"],
    )
    with pytest.raises(ForbiddenTarget, match="Conductor's own"):
        guard.check("http://localhost:5000/123456789012/conductor-dev-events")
    assert guard.check("http://localhost:5001/hook").addresses == ("127.0.0.1",)


def test_one_refused_address_among_several_refuses_the_name() -> None:
    guard = OutboundGuard(resolver=lambda host, port: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(ForbiddenTarget, match="private"):
        guard.check("https://mixed.example/")
