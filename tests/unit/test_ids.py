from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ids import PREFIXES, from_ms, id_time, is_id, new_id


@given(ms=st.integers(min_value=0, max_value=253_402_300_799_999), bits=st.integers(0, 2**80 - 1))
def test_id_encodes_its_creation_time_exactly(ms: int, bits: int) -> None:
    # Given an instant and random bits, When an id is made, Then its time decodes exactly
    identifier = new_id("evt", now_ms=ms, randbits=lambda _n: bits)
    assert id_time(identifier) == from_ms(ms)
    assert len(identifier) == 4 + 26


@given(a=st.integers(0, 2**47), b=st.integers(0, 2**47))
def test_ids_sort_by_time(a: int, b: int) -> None:
    first = new_id("rty", now_ms=min(a, b), randbits=lambda _n: 2**80 - 1)
    second = new_id("rty", now_ms=max(a, b) + 1, randbits=lambda _n: 0)
    assert first < second


def test_every_prefix_is_accepted_and_unknown_ones_are_not() -> None:
    for prefix in PREFIXES:
        assert is_id(new_id(prefix), prefix)
    with pytest.raises(ValueError):
        new_id("foo")


@pytest.mark.parametrize(
    "bad",
    [
        "evt_",
        "evt_123",
        "xyz_01M8KGG0H1398KT48NHQHKJ2H4",
        "evt_01M8KGG0H1398KT48NHQHKJ2HU",
        "evt_01m8kgg0h1398kt48nhqhkj2h4",
        "evt_ZZZZZZZZZZ1398KT48NHQHKJ2H4",
    ],
)
def test_malformed_ids_are_rejected(bad: str) -> None:
    assert not is_id(bad, "evt")


def test_from_ms_has_no_float_rounding() -> None:
    assert from_ms(1_795_951_088_123) == datetime(2026, 11, 29, 11, 18, 8, 123000, tzinfo=UTC)
