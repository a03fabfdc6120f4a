"""Conversion arithmetic at the bank's rates: integers only, rounding in the bank's favour.

Rates are tiyn per whole BTC. The customer receives the floor and pays the ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import ValidationFailed
from core.money import SATS_PER_BTC
from exchange.models import QuoteDirection

BP = 10_000

Rounding = Literal["down", "up"]


def _div(numerator: int, denominator: int, rounding: Rounding) -> int:
    if rounding == "down":
        return numerator // denominator
    return -(-numerator // denominator)


def kzt_for_btc(sats: int, rate_tiyn_per_btc: int, *, rounding: Rounding = "down") -> int:
    """Return the tiyn worth ``sats`` at ``rate``.

    ``down`` (default) for what a customer receives, ``up`` for what one pays.
    """
    return _div(sats * rate_tiyn_per_btc, SATS_PER_BTC, rounding)


def btc_for_kzt(tiyn: int, rate_tiyn_per_btc: int, *, rounding: Rounding = "down") -> int:
    """Return the satoshis worth ``tiyn`` at ``rate``.

    ``down`` (default) for what a customer receives; ``up`` for what a payer
    must send to cover a KZT price (a KZT-priced invoice).
    """
    if rate_tiyn_per_btc <= 0:
        raise ValueError("rate must be positive")
    return _div(tiyn * SATS_PER_BTC, rate_tiyn_per_btc, rounding)


def bid_rate(mid_tiyn_per_btc: int, spread_bp: int) -> int:
    """Return the rate at which the bank buys BTC (mid less the spread, rounded down)."""
    return (mid_tiyn_per_btc * (BP - spread_bp)) // BP


def ask_rate(mid_tiyn_per_btc: int, spread_bp: int) -> int:
    """Return the rate at which the bank sells BTC (mid plus the spread, rounded up)."""
    return -(-(mid_tiyn_per_btc * (BP + spread_bp)) // BP)


@dataclass(frozen=True)
class Conversion:
    amount_out_minor: int
    rate_tiyn_per_btc: int


def convert(
    *, direction: str, amount_in_minor: int, mid_tiyn_per_btc: int, spread_bp: int
) -> Conversion:
    """Return what the customer receives for ``amount_in_minor`` in ``direction``."""
    if direction == QuoteDirection.BTC_TO_KZT:
        rate = bid_rate(mid_tiyn_per_btc, spread_bp)
        return Conversion(kzt_for_btc(amount_in_minor, rate), rate)
    if direction == QuoteDirection.KZT_TO_BTC:
        rate = ask_rate(mid_tiyn_per_btc, spread_bp)
        return Conversion(btc_for_kzt(amount_in_minor, rate), rate)
    raise ValidationFailed("Unknown direction", fields={"direction": ["Choose a direction."]})
