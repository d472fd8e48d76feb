"""The parsers that take what callers send never fail with anything but their own refusal
(property-based: hypothesis makes the inputs, a fixed budget, derandomized)."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import strict_json
from chalicelib.domain.schedule import ExpressionError, parse_expression
from chalicelib.domain.ssrf import ForbiddenTarget, OutboundGuard

FIELD = st.sampled_from(
    [
        "*",
        "?",
        "0",
        "1",
        "7",
        "31",
        "59",
        "1-5",
        "MON-FRI",
        "*/15",
        "L",
        "6#3",
        "2027",
        "1960-2300",
        "5L",
        "2,4",
        "x",
        "",
        "99",
    ]
)


@settings(max_examples=300, derandomize=True)
@given(st.lists(FIELD, min_size=0, max_size=8))
def test_any_cron_is_parsed_or_refused_with_a_reason(fields: list[str]) -> None:
    try:
        parse_expression(f"cron({' '.join(fields)})")
    except ExpressionError as exc:
        assert str(exc)


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=60))
def test_any_expression_text_is_parsed_or_refused(text: str) -> None:
    for wrapped in (text, f"rate({text})", f"at({text})", f"cron({text})"):
        with contextlib.suppress(ExpressionError):
            parse_expression(wrapped)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, derandomize=True)
@given(JSONISH)
def test_strict_json_takes_finite_json_and_refuses_the_rest(value: object) -> None:
    text = json.dumps(value)  # may contain NaN / Infinity, as Python's json writes them
    try:
        parsed = strict_json.loads(text)
    except ValueError:
        assert "NaN" in text or "Infinity" in text or not strict_json.within_depth(value)
    else:
        assert strict_json.dumps(parsed)  # what was taken can always be written back


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=80))
def test_strict_json_refuses_garbage_with_a_value_error(raw: bytes) -> None:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        strict_json.loads(raw)


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=60))
def test_any_url_is_checked_or_refused_with_a_reason(text: str) -> None:
    guard = OutboundGuard(resolver=lambda host, port: ["93.184.216.34"])
    for url in (text, f"http://{text}", f"https://example.com:{text}/"):
        try:
            guard.check(url)
        except ForbiddenTarget as exc:
            assert str(exc)
