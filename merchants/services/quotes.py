"""The BTC due of a fiat-priced invoice, at the bank's rate (the exchange desk owns rates).

KZT invoices use the BTC/KZT mid rate; USD/EUR invoices the fiat pricing rate. Either
way the satoshis due are rounded up, so the payer always covers the price (as BTCPay
does), and fixed on the invoice with the rate used.
"""

from __future__ import annotations

from core.errors import ServiceUnavailable, ValidationFailed
from core.money import Currency
from exchange.services import btc_for_kzt, exchange_rate_fresh, pricing_rate_fresh
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


def sats_for_price(amount_minor: int, currency: str) -> tuple[int, int]:
    """Return (satoshis due, minor units of ``currency`` per BTC) for a fiat price.

    A USD/EUR rate that is missing or too old is a 422 on ``currency``: the invoice
    cannot be priced in that currency now (BTC or another currency still can).
    """
    if currency == Currency.KZT:
        return sats_for_tiyn(amount_minor)
    try:
        rate = pricing_rate_fresh(currency=currency)
    except ServiceUnavailable as exc:
        raise ValidationFailed(
            exc.message, fields={"currency": [f"{exc.message} Price in BTC for now."]}
        ) from exc
    # Same arithmetic as KZT (minor units in, satoshis out), rounded up to the satoshi.
    return btc_for_kzt(amount_minor, int(rate.minor_per_btc), rounding="up"), rate.minor_per_btc
