"""API versions: v2 is current; v1 is deprecated, then gone after its sunset date.

``/v1/...`` paths of operations that exist in both versions answer like v2 but carry
``Deprecation`` (RFC 9745), ``Sunset`` (RFC 8594) and a ``Link`` to the v2 successor; after the
sunset date they answer 410. Every response says its ``API-Version``. A client may send the
``API-Version`` request header: an unsupported value, or one that disagrees with the path, is a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

CURRENT = "v2"


@dataclass(frozen=True)
class ApiVersion:
    name: str
    status: str  # "current" | "deprecated"
    deprecated_at: datetime | None = None
    sunset_at: datetime | None = None


REGISTRY: dict[str, ApiVersion] = {
    "v2": ApiVersion("v2", "current"),
    "v1": ApiVersion(
        "v1",
        "deprecated",
        deprecated_at=datetime(2026, 6, 1, tzinfo=UTC),
        sunset_at=datetime(2027, 6, 1, tzinfo=UTC),
    ),
}
_PATH_VERSION = re.compile(r"^/(v\d+)(/|$)")


def path_version(path: str | None) -> str | None:
    match = _PATH_VERSION.match(path or "")
    return match.group(1) if match and match.group(1) in REGISTRY else None


def normalize(requested: str) -> str | None:
    """``"2"``, ``"v2"`` or ``"V2"`` -> ``"v2"``; None when no such version exists."""
    value = requested.strip().lower()
    value = value if value.startswith("v") else f"v{value}"
    return value if value in REGISTRY else None


def header_value(version: str) -> str:
    return version.removeprefix("v")


def deprecation_headers(version: ApiVersion, path: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    if version.deprecated_at is not None:
        headers["Deprecation"] = f"@{int(version.deprecated_at.timestamp())}"
    if version.sunset_at is not None:
        from email.utils import format_datetime  # noqa: PLC0415 - ~10 ms, for old versions only

        headers["Sunset"] = format_datetime(version.sunset_at, usegmt=True)
    headers["Link"] = f'<{successor(path)}>; rel="successor-version"'
    return headers


def successor(path: str) -> str:
    return "/" + CURRENT + path[len("/v1") :]


def is_gone(version: ApiVersion, now: datetime) -> bool:
    return version.sunset_at is not None and now >= version.sunset_at
