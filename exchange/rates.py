"""KZT equivalents of amounts, at the rate of the time of the movement."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from core.errors import ServiceUnavailable, invariant
from core.money import SATS_PER_BTC
from exchange.errors import RateUnavailable
from exchange.models import ExchangeRate
from exchange.services.rates import exchange_rate_fresh


def kzt_per_btc_tiyn(*, at: datetime | None = None) -> int:
    """Return tiyn per 1 BTC in force at ``at`` (default now).

    The bank's rate is the newest ``ExchangeRate`` mid rate set by then, and it
    must have been younger than ``EXCHANGE_RATE_MAX_AGE_S`` then (``RateStale``
    otherwise: a stale rate values nothing). Only while staff never set a rate
    (a fresh development database) is the ``KZT_PER_BTC_TIYN`` setting used.
    """
    return kzt_per_btc_as_of(at=at)[0]


def kzt_per_btc_as_of(*, at: datetime | None = None) -> tuple[int, datetime | None]:
    """Return ``kzt_per_btc_tiyn``'s rate and when it was set (None: the setting's).

    For pages that say which rate their KZT values are at.
    """
    try:
        rate = exchange_rate_fresh(at=at)
    except RateUnavailable:
        if ExchangeRate.objects.exists():
            raise  # rates exist, just none by ``at``: say so rather than guess
    else:
        return int(rate.mid_tiyn_per_btc), rate.created_at
    setting = int(getattr(settings, "KZT_PER_BTC_TIYN", 0))
    if setting <= 0:
        raise ServiceUnavailable("No BTC/KZT rate is available")
    return setting, None


def kzt_value_tiyn(*, amount_minor: int, currency: str, at: datetime | None = None) -> int:
    """Return the KZT equivalent in tiyn of ``amount_minor`` of ``currency`` (half up)."""
    invariant(amount_minor >= 0, "amount must not be negative")
    if currency == "KZT":
        return amount_minor
    invariant(currency == "BTC", f"unknown currency {currency}")
    rate = kzt_per_btc_tiyn(at=at)
    return (amount_minor * rate + SATS_PER_BTC // 2) // SATS_PER_BTC
