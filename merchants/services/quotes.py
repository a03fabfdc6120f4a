"""The bank's BTC/KZT quote for KZT-priced invoices (the exchange desk owns the rate)."""

from __future__ import annotations

from exchange.services import btc_for_kzt, exchange_rate_current
from merchants.errors import QuoteUnavailable


def sats_for_tiyn(tiyn: int) -> tuple[int, int]:
    """Return (satoshis due, rate in tiyn per BTC) for a KZT price at the mid rate.

    Rounded up to a whole satoshi so the payer always covers the price.
    """
    rate = exchange_rate_current()
    if rate is None or rate.mid_tiyn_per_btc <= 0:
        raise QuoteUnavailable("No BTC/KZT rate is set; KZT invoices are not available now.")
    mid = int(rate.mid_tiyn_per_btc)
    return btc_for_kzt(tiyn, mid, rounding="up"), mid
