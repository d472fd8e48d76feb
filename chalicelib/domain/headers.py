"""Custom request headers are write-only: they often carry credentials (``Authorization: Bearer
...``), so every answer shows them masked, and an update that sends a masked value back keeps
the stored one (a form filled from a GET can be saved without retyping secrets)."""

from __future__ import annotations

from typing import Any

from chalicelib.errors import ValidationFailed

MASK = "********"
#: A header name is an RFC 9110 token; a value has no control characters (CR/LF would split
#: the request: every delivery would then fail, or worse, smuggle a header).
NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$"
VALUE_PATTERN = r"^[^\x00-\x08\x0a-\x1f\x7f]*$"


class MaskedValue(ValueError):
    """A header value was the mask but there is no stored value to keep."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is masked ({MASK}); send its value")
        self.name = name


def masked(headers: dict[str, str] | None) -> dict[str, str]:
    return {name: MASK for name in headers or {}}


def masked_target(target: dict[str, Any] | None) -> dict[str, Any] | None:
    """A target as people may see it: its header values masked."""
    if not target or not target.get("headers"):
        return target
    return {**target, "headers": masked(target["headers"])}


def kept(sent: dict[str, str] | None, stored: dict[str, str] | None, field: str) -> dict[str, str]:
    """``unmasked``, with a masked value that has nothing stored behind it a 400 on
    ``<field>.<name>`` (a new resource has nothing stored: its values must be sent for real)."""
    try:
        return unmasked(sent, stored)
    except MaskedValue as exc:
        raise ValidationFailed(
            "A header value is masked.", [{"field": f"{field}.{exc.name}", "problem": str(exc)}]
        ) from exc


def unmasked(sent: dict[str, str] | None, stored: dict[str, str] | None) -> dict[str, str]:
    """``sent`` with each masked value replaced by the stored one of the same name."""
    kept = stored or {}
    result = {}
    for name, value in (sent or {}).items():
        if value == MASK and name not in kept:
            raise MaskedValue(name)
        result[name] = kept[name] if value == MASK else value
    return result
