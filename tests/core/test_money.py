"""The one parser and formatter between decimal text and minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationFailed
from core.money import (
    CAP_MINOR,
    Currency,
    amount_formatter,
    btc_to_sats,
    currency_of,
    format_amount,
    parse_amount,
    sats_to_btc,
)


@given(st.sampled_from(list(Currency)), st.data())
def test_format_then_parse_round_trips(currency: Currency, data: st.DataObject) -> None:
    minor = data.draw(st.integers(min_value=1, max_value=CAP_MINOR[currency]))
    assert parse_amount(format_amount(minor, currency), currency) == minor


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_negative_round_trip_when_allowed(minor: int) -> None:
    text = format_amount(minor, Currency.KZT)
    assert parse_amount(text, "KZT", allow_zero=True, allow_negative=True) == minor


@given(st.integers(min_value=1, max_value=10**8), st.integers(min_value=1, max_value=9))
def test_too_many_decimals_rejected(whole: int, extra_digit: int) -> None:
    with pytest.raises(ValidationFailed):
        parse_amount(f"{whole}.00{extra_digit}", "KZT")
    with pytest.raises(ValidationFailed):
        parse_amount(f"{whole}.00000000{extra_digit}", "BTC")


@pytest.mark.parametrize(
    "text",
    [
        "1e3",
        "1E-2",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "+1",
        "1,000",
        " ",
        "",
        "0x10",
        "1.",
        ".5",
        "1..2",
        "١٢",
        "1 000",
        "--1",
        "12345678901234567",
    ],
)
def test_malformed_rejected(text: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_amount(text, "BTC")
    assert err.value.fields


def test_signs_zero_and_cap() -> None:
    with pytest.raises(ValidationFailed):
        parse_amount("-1", "BTC")
    with pytest.raises(ValidationFailed):
        parse_amount("0", "BTC")
    assert parse_amount("0", "BTC", allow_zero=True) == 0
    assert parse_amount("21000000", "BTC") == CAP_MINOR[Currency.BTC]
    with pytest.raises(ValidationFailed):
        parse_amount("21000000.00000001", "BTC")
    with pytest.raises(ValidationFailed):
        parse_amount("1", "XYZ")
    with pytest.raises(ValidationFailed):
        parse_amount(1, "BTC")  # type: ignore[arg-type]


def test_fiat_price_currencies_parse_in_their_iso_minor_units() -> None:
    """USD/EUR/JPY are prices only (no account), in ISO 4217 minor units."""
    assert parse_amount("19.99", "USD") == 1999
    assert format_amount(1999, "EUR", with_code=True) == "19.99 EUR"
    assert parse_amount("2100", "JPY") == 2100 and format_amount(2100, "JPY") == "2100"
    for bad, code in [("1.001", "USD"), ("1.5", "JPY"), ("10000000000000.01", "USD")]:
        with pytest.raises(ValidationFailed):
            parse_amount(bad, code)
    with pytest.raises(ValidationFailed):  # never a ledger currency: no account opens in it
        currency_of("USD")


def test_examples() -> None:
    assert parse_amount("0.0015", "BTC") == 150_000
    assert parse_amount("1234.5", "KZT") == 123_450
    assert format_amount(150_000, "BTC") == "0.00150000"
    assert format_amount(-5, "KZT", with_code=True) == "-0.05 KZT"


@given(st.integers(min_value=0, max_value=CAP_MINOR[Currency.BTC]))
def test_btc_decimal_boundary(sats: int) -> None:
    assert btc_to_sats(sats_to_btc(sats)) == sats


def test_btc_to_sats_refuses_floats_and_fractions() -> None:
    with pytest.raises(TypeError):
        btc_to_sats(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        btc_to_sats(Decimal("0.000000001"))


@given(st.integers(min_value=-CAP_MINOR[Currency.BTC], max_value=CAP_MINOR[Currency.BTC]))
def test_amount_formatter_gives_format_amounts_text(minor: int) -> None:
    for code in ("BTC", "KZT", "JPY"):
        assert amount_formatter(code)(minor) == format_amount(minor, code)


def test_amount_formatter_at_the_edges() -> None:
    for code in ("BTC", "KZT", "JPY"):
        formatted = amount_formatter(code)
        for minor in (0, 1, -1, 99, -99, -100, 10**8, -(10**8) - 1, CAP_MINOR[Currency.BTC]):
            assert formatted(minor) == format_amount(minor, code)


def test_amount_formatter_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValidationFailed):
        amount_formatter("XYZ")
