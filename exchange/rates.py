"""KZT equivalents of amounts, at the rate of the time of the movement."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from core.errors import ServiceUnavailable, invariant
from core.money import SATS_PER_BTC
from exchange.models import ExchangeRate


def kzt_per_btc_tiyn(*, at: datetime | None = None) -> int:
    """Return tiyn per 1 BTC in force at ``at`` (default now).

    The bank's rate is the newest ``ExchangeRate`` mid rate set by
    then; before any rate is set, the ``KZT_PER_BTC_TIYN`` setting.
    """
    rates = ExchangeRate.objects.all()
    if at is not None:
        rates = rates.filter(created_at__lte=at)
    rate = rates.order_by("-created_at", "-id").values_list("mid_tiyn_per_btc", flat=True).first()
    if rate is None:
        rate = int(getattr(settings, "KZT_PER_BTC_TIYN", 0))
    if rate <= 0:
        raise ServiceUnavailable("No BTC/KZT rate is available")
    return int(rate)


def kzt_value_tiyn(*, amount_minor: int, currency: str, at: datetime | None = None) -> int:
    """Return the KZT equivalent in tiyn of ``amount_minor`` of ``currency`` (half up)."""
    invariant(amount_minor >= 0, "amount must not be negative")
    if currency == "KZT":
        return amount_minor
    invariant(currency == "BTC", f"unknown currency {currency}")
    rate = kzt_per_btc_tiyn(at=at)
    return (amount_minor * rate + SATS_PER_BTC // 2) // SATS_PER_BTC
