"""The bank's BTC/KZT rate: the one in force, its age bound, and setting a new one.

A rate older than ``EXCHANGE_RATE_MAX_AGE_S`` prices nothing (quotes, KZT invoices,
conversions and limit valuations refuse it). A new rate that moves more than
``EXCHANGE_RATE_JUMP_MAX_BP`` from the one in force is a four-eyes change: it is set
only with the approval compliance's engine is executing (``compliance.services.rates``).
The controls themselves are shared with the fiat pricing rates (``rate_controls``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from accounts.actor import Actor
from audit.chain import audit_record
from core.errors import ValidationFailed
from exchange.errors import RateStale, RateUnavailable
from exchange.models import ExchangeRate
from exchange.services.rate_controls import (
    rate_is_stale,
    rate_jump_over_bound,
    rate_setter_check,
)

SET_PERMISSION = "exchange.add_exchangerate"
SET_ACTION = "exchange_rate_set"
SPREAD_BP_MAX = 4_999
RATE_MAX_TIYN_PER_BTC = 10**15


def exchange_rate_current() -> ExchangeRate | None:
    """Return the newest rate, fresh or not (for display), or None if none was set."""
    return ExchangeRate.objects.order_by("-created_at", "-id").first()


def exchange_rate_in_force(*, at: dt.datetime | None = None) -> ExchangeRate | None:
    """Return the rate in force at ``at`` (default now), or None if none was set by then."""
    rates = ExchangeRate.objects.all()
    if at is not None:
        rates = rates.filter(created_at__lte=at)
    return rates.order_by("-created_at", "-id").first()


def exchange_rate_fresh(*, at: dt.datetime | None = None) -> ExchangeRate:
    """Return the rate in force at ``at`` if it was younger than the age bound then.

    Raises ``RateUnavailable`` when staff never set one, ``RateStale`` when the one in
    force is too old to price anything.
    """
    rate = exchange_rate_in_force(at=at)
    if rate is None:
        raise RateUnavailable("No BTC/KZT rate is set; exchange is not available now.")
    if rate_is_stale(rate.created_at, at=at):
        raise RateStale(
            "The BTC/KZT rate is out of date; exchange is paused until staff set a new one."
        )
    return rate


def exchange_rate_check(*, mid_tiyn_per_btc: int, spread_bp: int) -> None:
    """Raise ``ValidationFailed`` unless the mid rate and spread are within bounds."""
    errors: dict[str, list[str]] = {}
    if not 0 < mid_tiyn_per_btc <= RATE_MAX_TIYN_PER_BTC:
        errors["mid_tiyn_per_btc"] = ["Must be a positive amount of tiyn per BTC."]
    if not 0 <= spread_bp <= SPREAD_BP_MAX:
        errors["spread_bp"] = [f"Must be between 0 and {SPREAD_BP_MAX} basis points."]
    if errors:
        raise ValidationFailed("Invalid rate", fields=errors)


def exchange_rate_needs_four_eyes(*, mid_tiyn_per_btc: int) -> bool:
    """Return whether setting this mid rate needs a second person (a jump over the bound)."""
    before = exchange_rate_current()
    return rate_jump_over_bound(
        before=None if before is None else before.mid_tiyn_per_btc, after=mid_tiyn_per_btc
    )


def exchange_rate_set(
    *,
    mid_tiyn_per_btc: int,
    spread_bp: int,
    actor: Actor,
    client_address: str | None = None,
    approval: Any | None = None,
) -> ExchangeRate:
    """Set a new mid rate and spread (a new row; the old ones stay as history).

    A jump over ``EXCHANGE_RATE_JUMP_MAX_BP`` is refused unless ``approval`` is the
    four-eyes request being approved now by ``actor`` (proposed by someone else).
    """
    exchange_rate_check(mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp)
    with transaction.atomic():
        # Serialise rate changes so two jumps cannot each pass against the same old rate.
        ExchangeRate.objects.select_for_update().order_by("-created_at", "-id").first()
        before = exchange_rate_current()
        rate_setter_check(
            actor=actor, approval=approval, action=SET_ACTION, permission=SET_PERMISSION,
            needs_four_eyes=exchange_rate_needs_four_eyes(mid_tiyn_per_btc=mid_tiyn_per_btc),
            params={"mid_tiyn_per_btc": mid_tiyn_per_btc, "spread_bp": spread_bp},
        )  # fmt: skip
        rate = ExchangeRate.objects.create(
            mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp, set_by=actor
        )
        audit_record(
            actor=actor,
            action="exchange_rate.set",
            obj=rate,
            data={
                "before": None
                if before is None
                else {"mid_tiyn_per_btc": before.mid_tiyn_per_btc, "spread_bp": before.spread_bp},
                "after": {"mid_tiyn_per_btc": mid_tiyn_per_btc, "spread_bp": spread_bp},
                "approval": getattr(approval, "pk", None),
            },
            client_address=client_address,
        )
    return rate
