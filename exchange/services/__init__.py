"""Every write of the exchange desk, split by concept and re-exported here."""

from exchange.errors import QuoteExpired, QuoteUsed
from exchange.services.conversion import (
    Conversion,
    ask_rate,
    bid_rate,
    btc_for_kzt,
    convert,
    kzt_for_btc,
)
from exchange.services.pricing_rates import (
    pricing_currencies,
    pricing_rate_check,
    pricing_rate_current,
    pricing_rate_fresh,
    pricing_rate_needs_four_eyes,
    pricing_rate_set,
)
from exchange.services.quotes import quote_create, quote_execute
from exchange.services.rates import (
    exchange_rate_check,
    exchange_rate_current,
    exchange_rate_fresh,
    exchange_rate_in_force,
    exchange_rate_needs_four_eyes,
    exchange_rate_set,
)

__all__ = [
    "Conversion",
    "QuoteExpired",
    "QuoteUsed",
    "ask_rate",
    "bid_rate",
    "btc_for_kzt",
    "convert",
    "exchange_rate_check",
    "exchange_rate_current",
    "exchange_rate_fresh",
    "exchange_rate_in_force",
    "exchange_rate_needs_four_eyes",
    "exchange_rate_set",
    "kzt_for_btc",
    "pricing_currencies",
    "pricing_rate_check",
    "pricing_rate_current",
    "pricing_rate_fresh",
    "pricing_rate_needs_four_eyes",
    "pricing_rate_set",
    "quote_create",
    "quote_execute",
]
