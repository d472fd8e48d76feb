from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.cursor import decode_cursor, encode_cursor
from chalicelib.errors import ValidationFailed

keys = st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=20), min_size=1, max_size=3)


@given(key=keys)
def test_cursor_round_trips(key: dict[str, str]) -> None:
    assert decode_cursor(encode_cursor(key, "s3cret"), "s3cret") == key


def test_no_key_means_no_cursor() -> None:
    assert encode_cursor(None, "s") is None
    assert decode_cursor(None, "s") is None
    assert decode_cursor("", "s") is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # altered MAC
        lambda c: "e30" + c[3:],  # altered payload
        lambda c: c.split(".")[0],  # MAC removed
        lambda c: "not a cursor",
        lambda c: "%%%.%%%",
    ],
)
def test_tampered_cursor_is_a_validation_error(mutate) -> None:  # type: ignore[no-untyped-def]
    cursor = encode_cursor({"d": "2026-11-29", "k": "x"}, "s3cret")
    assert cursor is not None
    with pytest.raises(ValidationFailed) as info:
        decode_cursor(mutate(cursor), "s3cret")
    assert info.value.details[0]["field"] == "cursor"


def test_cursor_from_another_secret_is_refused() -> None:
    cursor = encode_cursor({"k": "v"}, "stage-a")
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, "stage-b")
