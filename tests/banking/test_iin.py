"""The Kazakh IIN validator: check digits, the date and century it encodes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from banking.services.kyc import iin_check_digit, iin_validate
from core.errors import ValidationFailed

# Worked by hand: 9+0+0+20+5+30+28+0+9+20+33 = 154 = 14*11 -> check digit 0.
VALID_FIRST_PASS = "900515401230"
# First pass: 131 mod 11 = 10; second pass (weights 3..11,1,2): 108 mod 11 = 9.
VALID_SECOND_PASS = "850103300709"
# Both passes give 10 for these first 11 digits: no check digit makes it valid.
NO_CHECK_DIGIT = "85010330076"
FULL_WIDTH = "".join(chr(0xFF10 + int(c)) for c in VALID_FIRST_PASS)


def test_valid_iin_returns_birth_date_and_sex() -> None:
    info = iin_validate(VALID_FIRST_PASS)
    assert info.birth_date == dt.date(1990, 5, 15)
    assert info.sex == "F"


def test_second_weights_are_used_when_the_first_give_ten() -> None:
    info = iin_validate(VALID_SECOND_PASS)
    assert info.birth_date == dt.date(1985, 1, 3)
    assert info.sex == "M"


@pytest.mark.parametrize("last", list("0123456789"))
def test_iin_without_any_check_digit_is_invalid(last: str) -> None:
    assert iin_check_digit(NO_CHECK_DIGIT) is None
    with pytest.raises(ValidationFailed) as exc:
        iin_validate(NO_CHECK_DIGIT + last)
    assert "iin" in exc.value.fields


@pytest.mark.parametrize(
    ("iin", "why"),
    [
        ("900515401231", "check digit"),
        ("90051540123", "12 digits"),
        ("9005154012300", "12 digits"),
        ("90051540123a", "12 digits"),
        (FULL_WIDTH, "12 digits"),  # full-width digits are not ASCII
        ("900515001230", "7th digit"),
        ("900515701230", "7th digit"),
        ("901315401230", "date"),
        ("900230401230", "date"),
        ("", "12 digits"),
    ],
)
def test_invalid_iins_are_refused(iin: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        iin_validate(iin)
    assert exc.value.fields["iin"], why


@pytest.mark.parametrize(
    ("century_digit", "year", "sex"),
    [
        ("1", 1890, "M"),
        ("2", 1890, "F"),
        ("3", 1990, "M"),
        ("4", 1990, "F"),
        ("5", 2090, "M"),
        ("6", 2090, "F"),
    ],
)
def test_century_and_sex_digit(century_digit: str, year: int, sex: str) -> None:
    first = f"900101{century_digit}0123"
    check = iin_check_digit(first)
    if check is None:
        first = f"900101{century_digit}0124"
        check = iin_check_digit(first)
    assert check is not None
    info = iin_validate(first + str(check))
    assert info.birth_date == dt.date(year, 1, 1)
    assert info.sex == sex


@given(st.from_regex(r"\A[0-9]{11}\Z"))
def test_exactly_one_check_digit_or_none_is_valid(first: str) -> None:
    check = iin_check_digit(first)
    valid = []
    for last in "0123456789":
        try:
            iin_validate(first + last)
        except ValidationFailed:
            continue
        valid.append(last)
    assert len(valid) <= 1
    if valid:
        assert check == int(valid[0])


@given(st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2099, 12, 31)), st.booleans())
def test_any_real_date_round_trips(born: dt.date, female: bool) -> None:
    digit = {18: 1, 19: 3, 20: 5}[born.year // 100] + int(female)
    for serial in range(20):
        first = f"{born:%y%m%d}{digit}{serial:04d}"
        check = iin_check_digit(first)
        if check is not None:
            info = iin_validate(first + str(check))
            assert info.birth_date == born
            assert info.sex == ("F" if female else "M")
            return
    raise AssertionError("no serial with a check digit")
