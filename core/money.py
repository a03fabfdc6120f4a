"""Money at the edges: decimal strings in, integer minor units inside.

Every stored amount is an ``int`` count of minor units (satoshi for BTC, tiyn
for KZT). Decimal text exists only in forms, JSON and bitcoind replies; this
module is the one parser and the one formatter between the two.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from core.errors import ValidationFailed


class Currency(StrEnum):
    BTC = "BTC"
    KZT = "KZT"


DECIMALS: dict[Currency, int] = {Currency.BTC: 8, Currency.KZT: 2}
# Caps in minor units: 21 million BTC; 10^13 KZT is far above any real movement.
CAP_MINOR: dict[Currency, int] = {
    Currency.BTC: 21_000_000 * 100_000_000,
    Currency.KZT: 10**15,
}
SATS_PER_BTC = 100_000_000
# ISO 4217 minor-unit exponents of fiat currencies an invoice may be priced in. A price
# only: the bank holds no account in them (which are offered: PRICING_FIAT_CURRENCIES).
PRICE_DECIMALS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "JPY": 0, "CNY": 2, "RUB": 2, "TRY": 2,
    "AED": 2, "UZS": 2, "KGS": 2,
}  # fmt: skip
PRICE_CAP_MINOR = 10**15

# Plain decimal notation only: no exponent, no NaN/Infinity, no grouping, no
# leading '+'. A leading '-' is matched here and refused unless allowed.
_AMOUNT_RE = re.compile(r"^(-?)([0-9]{1,16})(?:\.([0-9]+))?$")


def currency_of(code: str) -> Currency:
    """Return the currency for a code, or raise a field error."""
    try:
        return Currency(code)
    except ValueError:
        raise ValidationFailed(
            f"Unsupported currency {code!r}", fields={"currency": ["Use BTC or KZT."]}
        ) from None


def _unit(code: str) -> tuple[str, int, int]:
    """Return (code, decimals, cap) of a ledger currency or of a fiat price currency."""
    if code in PRICE_DECIMALS:
        return code, PRICE_DECIMALS[code], PRICE_CAP_MINOR
    cur = currency_of(code)
    return cur, DECIMALS[cur], CAP_MINOR[cur]


def parse_amount(
    text: str,
    currency: Currency | str,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> int:
    """Parse a decimal string like ``"0.00150000"`` into minor units.

    Rejects more decimals than the currency has, exponents, NaN/Infinity,
    signs where not allowed, and values whose magnitude exceeds the cap.
    """
    cur, places, _ = _unit(str(currency))
    if not isinstance(text, str):
        raise ValidationFailed(
            "Amount must be a string", fields={field: ["Send a decimal string."]}
        )
    match = _AMOUNT_RE.match(text.strip())
    if match is None:
        raise ValidationFailed(
            f"Invalid amount {text!r}", fields={field: ["Enter a plain decimal number."]}
        )
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if len(frac) > places:
        raise ValidationFailed(
            f"Too many decimals for {cur}",
            fields={field: [f"{cur} has at most {places} decimal places."]},
        )
    minor = int(whole) * 10**places + int(frac.ljust(places, "0") or "0")
    if sign == "-":
        if not allow_negative:
            raise ValidationFailed("Negative amount", fields={field: ["Must not be negative."]})
        minor = -minor
    return check_minor(
        minor, cur, field=field, allow_zero=allow_zero, allow_negative=allow_negative
    )


def check_minor(
    minor: int,
    currency: Currency | str,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> int:
    """Validate an amount already in minor units and return it."""
    cur, _, cap = _unit(str(currency))
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise ValidationFailed("Amount must be an integer", fields={field: ["Not an integer."]})
    if minor == 0 and not allow_zero:
        raise ValidationFailed("Amount must be positive", fields={field: ["Must be more than 0."]})
    if minor < 0 and not allow_negative:
        raise ValidationFailed("Amount must be positive", fields={field: ["Must not be negative."]})
    if abs(minor) > cap:
        raise ValidationFailed(
            "Amount over the cap",
            fields={field: [f"Must be at most {format_amount(cap, cur)} {cur}."]},
        )
    return minor


def format_amount(minor: int, currency: Currency | str, *, with_code: bool = False) -> str:
    """Format minor units as a fixed-point decimal string (``150000`` -> ``"0.00150000"``)."""
    cur, places, _ = _unit(str(currency))
    text = _fixed_point(minor, places)
    return f"{text} {cur}" if with_code else text


def _fixed_point(minor: int, places: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def amount_formatter(currency: Currency | str) -> Callable[[int], str]:
    """Return ``format_amount`` for one currency, its decimals looked up once.

    For long listings (a statement of 100,000 lines formats two amounts a line).
    """
    _cur, places, _cap = _unit(str(currency))
    return functools.partial(_fixed_point, places=places)


def btc_to_sats(value: Decimal | int | str) -> int:
    """Convert a BTC amount from bitcoind (a ``Decimal``) to satoshis, exactly.

    Refuses floats and fractions of a satoshi rather than rounding them away.
    """
    if isinstance(value, float):
        raise TypeError("BTC amounts must never be floats")
    try:
        dec = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"Not a BTC amount: {value!r}") from None
    sats = dec * SATS_PER_BTC
    if sats != sats.to_integral_value():
        raise ValueError(f"BTC amount {value} has a fraction of a satoshi")
    return int(sats)


def sats_to_btc(sats: int) -> Decimal:
    """Convert satoshis to a BTC ``Decimal`` with 8 places for bitcoind."""
    return (Decimal(sats) / SATS_PER_BTC).quantize(Decimal("0.00000001"))
