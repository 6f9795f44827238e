import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.errors import BadNumber, BadUnit
from kb.units import PF_DAY, parse_number, to_native, from_native


@pytest.mark.parametrize("text,value,unit", [
    ("70B", 70e9, None), ("1.4T", 1.4e12, None), ("5.76e23", 5.76e23, None), ("6666 PF-days", 6666.0, "PF-days"),
    ("400M", 4e8, None), ("2.5k", 2500.0, None), ("1_000", 1000.0, None), ("1.5T tokens", 1.5e12, "tokens"),
    ("3e21 FLOP", 3e21, "FLOP"), (".5", 0.5, None),
])
def test_parse(text, value, unit):
    got, got_unit = parse_number(text)
    assert got == pytest.approx(value, rel=1e-15) and got_unit == unit


@pytest.mark.parametrize("text", ["", "abc", "nan", "inf", "-inf", "1e999", "1.2.3", "70X", "--3", "1e"])
def test_bad_numbers(text):
    with pytest.raises((BadNumber, BadUnit)):
        parse_number(text)


def test_pf_days_convert_both_ways():
    assert PF_DAY == 8.64e19
    assert to_native(5.76e23, None, "PF-days", "C") == pytest.approx(5.76e23 / 8.64e19)
    assert to_native(6666, "PF-days", "FLOP", "C") == pytest.approx(6666 * 8.64e19)
    assert from_native(1.0, "PF-days") == (8.64e19, "FLOP")


def test_wrong_dimension_is_refused():
    with pytest.raises(BadUnit):
        to_native(1.0, "tokens", "params", "N")


@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False))
def test_round_trip_of_plain_numbers(x):
    assert parse_number(repr(x))[0] == x
