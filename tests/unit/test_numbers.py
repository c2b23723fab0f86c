"""Numbers read from request headers: ASCII digits of any length are their value up to
the caller's ceiling; anything else is not a number."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from filewallball.api.numbers import bounded_decimal

ceilings = st.integers(min_value=0, max_value=2**64)
digits = st.text(st.sampled_from("0123456789"), min_size=1, max_size=6000)


@given(text=digits, ceiling=ceilings)
def test_digits_are_their_value_up_to_the_ceiling(text: str, ceiling: int) -> None:
    significant = text.lstrip("0") or "0"
    if len(significant) > 4000:  # past any ceiling here, and past what int() reads
        assert bounded_decimal(text, ceiling) == ceiling
    else:
        assert bounded_decimal(text, ceiling) == min(int(significant), ceiling)


@given(text=st.text(max_size=50), ceiling=ceilings)
def test_anything_but_ascii_digits_is_not_a_number(text: str, ceiling: int) -> None:
    value = bounded_decimal(text, ceiling)
    if text and text.isascii() and text.isdigit():
        assert value is not None
        assert 0 <= value <= ceiling
    else:
        assert value is None
