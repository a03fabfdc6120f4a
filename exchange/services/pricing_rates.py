"""Fiat pricing rates: what a USD or EUR invoice's BTC due is computed from.

One reference rate per fiat currency of ``PRICING_FIAT_CURRENCIES``, in minor units per
BTC, set by staff or a feed under the same controls as the BTC/KZT rate
(``rate_controls``): history rows never change, every set is audited, a rate older than
the age bound prices nothing, and a jump over the bound needs a second staff member
(proposed through ``compliance.services.rates``). The bank holds no account in these
currencies: a pricing rate never prices an exchange.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.actor import Actor
from audit.chain import audit_record
from core.errors import ValidationFailed
from core.money import PRICE_DECIMALS
from exchange.errors import RateStale, RateUnavailable
from exchange.models import PricingRate, RateSource
from exchange.services.rate_controls import (
    rate_is_stale,
    rate_jump_over_bound,
    rate_setter_check,
)

PRICING_SET_PERMISSION = "exchange.add_pricingrate"
PRICING_SET_ACTION = "pricing_rate_set"
PRICING_RATE_MAX_MINOR_PER_BTC = 10**15


def pricing_currencies() -> tuple[str, ...]:
    """Return the fiat currencies invoices may be priced in (``PRICING_FIAT_CURRENCIES``)."""
    codes = tuple(getattr(settings, "PRICING_FIAT_CURRENCIES", ()))
    unknown = [code for code in codes if code not in PRICE_DECIMALS]
    if unknown:
        raise ImproperlyConfigured(
            f"PRICING_FIAT_CURRENCIES has codes without known decimals: {unknown}"
        )
    return codes


def pricing_rate_check(*, currency: str, minor_per_btc: int) -> None:
    """Raise ``ValidationFailed`` unless the currency is offered and the rate within bounds."""
    errors: dict[str, list[str]] = {}
    if currency not in pricing_currencies():
        errors["currency"] = [f"One of {', '.join(pricing_currencies()) or '(none configured)'}."]
    if (
        isinstance(minor_per_btc, bool)
        or not isinstance(minor_per_btc, int)
        or not 0 < minor_per_btc <= PRICING_RATE_MAX_MINOR_PER_BTC
    ):
        errors["minor_per_btc"] = ["Must be a positive whole number of minor units per BTC."]
    if errors:
        raise ValidationFailed("Invalid pricing rate", fields=errors)


def pricing_rate_current(*, currency: str) -> PricingRate | None:
    """Return the newest rate of ``currency``, fresh or not (for display), or None."""
    return PricingRate.objects.filter(currency=currency).order_by("-created_at", "-id").first()


def pricing_rate_fresh(*, currency: str, at: dt.datetime | None = None) -> PricingRate:
    """Return the rate of ``currency`` in force at ``at`` if it was young enough then.

    Raises ``RateUnavailable`` when none was set, ``RateStale`` when it is too old.
    """
    rates = PricingRate.objects.filter(currency=currency)
    if at is not None:
        rates = rates.filter(created_at__lte=at)
    rate = rates.order_by("-created_at", "-id").first()
    if rate is None:
        raise RateUnavailable(f"The bank has no {currency} rate (per BTC) set.")
    if rate_is_stale(rate.created_at, at=at):
        raise RateStale(f"The BTC/{currency} rate is out of date until staff or the feed set one.")
    return rate


def pricing_rate_needs_four_eyes(*, currency: str, minor_per_btc: int) -> bool:
    """Return whether setting this rate needs a second person (a jump over the bound)."""
    before = pricing_rate_current(currency=currency)
    return rate_jump_over_bound(
        before=None if before is None else before.minor_per_btc, after=minor_per_btc
    )


def pricing_rate_set(
    *,
    currency: str,
    minor_per_btc: int,
    actor: Actor,
    source: str = RateSource.STAFF,
    client_address: str | None = None,
    approval: Any | None = None,
) -> PricingRate:
    """Set a new rate of ``currency`` (a new row; older rows stay as its history).

    A jump over ``EXCHANGE_RATE_JUMP_MAX_BP`` is refused unless ``approval`` is the
    four-eyes request being approved now by ``actor`` (proposed by someone else); a
    feed (``actor=None``) can therefore never jump the rate.
    """
    pricing_rate_check(currency=currency, minor_per_btc=minor_per_btc)
    with transaction.atomic():
        # Serialise changes of one currency so two jumps cannot each pass the same old rate.
        before = (
            PricingRate.objects.select_for_update()
            .filter(currency=currency)
            .order_by("-created_at", "-id")
            .first()
        )
        rate_setter_check(
            actor=actor,
            approval=approval,
            needs_four_eyes=pricing_rate_needs_four_eyes(
                currency=currency, minor_per_btc=minor_per_btc
            ),
            action=PRICING_SET_ACTION,
            permission=PRICING_SET_PERMISSION,
            params={"currency": currency, "minor_per_btc": minor_per_btc},
        )
        rate = PricingRate.objects.create(
            currency=currency, minor_per_btc=minor_per_btc, source=source, set_by=actor
        )
        audit_record(
            actor=actor,
            action="pricing_rate.set",
            obj=rate,
            data={
                "currency": currency,
                "before": None if before is None else before.minor_per_btc,
                "after": minor_per_btc,
                "source": source,
                "approval": getattr(approval, "pk", None),
            },
            client_address=client_address,
        )
    return rate
