"""The bank's BTC/KZT quote for KZT-priced invoices (the exchange desk owns the rate)."""

from __future__ import annotations

from core.errors import ServiceUnavailable
from exchange.services import btc_for_kzt, exchange_rate_fresh
from merchants.errors import QuoteUnavailable


def sats_for_tiyn(tiyn: int) -> tuple[int, int]:
    """Return (satoshis due, rate in tiyn per BTC) for a KZT price at the mid rate.

    Rounded up to a whole satoshi so the payer always covers the price.
    """
    try:
        rate = exchange_rate_fresh()
    except ServiceUnavailable as exc:  # none set, or too old to price with
        raise QuoteUnavailable(f"{exc.message} KZT invoices are not available now.") from exc
    mid = int(rate.mid_tiyn_per_btc)
    return btc_for_kzt(tiyn, mid, rounding="up"), mid
