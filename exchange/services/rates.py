"""The bank's BTC/KZT rate: the one in force, its age bound, and setting a new one.

A rate older than ``EXCHANGE_RATE_MAX_AGE_S`` prices nothing (quotes, KZT invoices,
conversions and limit valuations refuse it). A new rate that moves more than
``EXCHANGE_RATE_JUMP_MAX_BP`` from the one in force is a four-eyes change: it is set
only with the approval compliance's engine is executing (``compliance.services.rates``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from audit.chain import audit_record
from core.errors import PermissionDenied, ValidationFailed
from exchange.errors import RateJumpNeedsFourEyes, RateStale, RateUnavailable
from exchange.models import ExchangeRate

SET_PERMISSION = "exchange.add_exchangerate"
SET_ACTION = "exchange_rate_set"
SPREAD_BP_MAX = 4_999
RATE_MAX_TIYN_PER_BTC = 10**15
BP = 10_000


def exchange_rate_current() -> ExchangeRate | None:
    """Return the newest rate, fresh or not (for display), or None if none was set."""
    return ExchangeRate.objects.order_by("-created_at", "-id").first()


def exchange_rate_in_force(*, at: dt.datetime | None = None) -> ExchangeRate | None:
    """Return the rate in force at ``at`` (default now), or None if none was set by then."""
    rates = ExchangeRate.objects.all()
    if at is not None:
        rates = rates.filter(created_at__lte=at)
    return rates.order_by("-created_at", "-id").first()


def rate_max_age() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.EXCHANGE_RATE_MAX_AGE_S))


def exchange_rate_fresh(*, at: dt.datetime | None = None) -> ExchangeRate:
    """Return the rate in force at ``at`` if it was younger than the age bound then.

    Raises ``RateUnavailable`` when staff never set one, ``RateStale`` when the one in
    force is too old to price anything.
    """
    when = at or timezone.now()
    rate = exchange_rate_in_force(at=at)
    if rate is None:
        raise RateUnavailable("No BTC/KZT rate is set; exchange is not available now.")
    if rate.created_at < when - rate_max_age():
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


def rate_jump_bp(*, before_tiyn: int, after_tiyn: int) -> int:
    """Return how far a new mid rate moves from the old one, in basis points (rounded up)."""
    return -(-abs(after_tiyn - before_tiyn) * BP // before_tiyn)


def exchange_rate_needs_four_eyes(*, mid_tiyn_per_btc: int) -> bool:
    """Return whether setting this mid rate needs a second person (a jump over the bound)."""
    before = exchange_rate_current()
    if before is None:
        return False
    jump = rate_jump_bp(before_tiyn=before.mid_tiyn_per_btc, after_tiyn=mid_tiyn_per_btc)
    return jump > int(settings.EXCHANGE_RATE_JUMP_MAX_BP)


def _check_setter(actor: Actor, approval: Any | None, needs_four_eyes: bool) -> None:
    # ``None`` is the system (a rate feed task); a person must be staff with the permission.
    if actor is not None and not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only active staff may set the exchange rate")
    if actor is not None and not actor.has_perm(SET_PERMISSION):
        raise PermissionDenied(f"You lack the permission {SET_PERMISSION}")
    if not needs_four_eyes:
        return
    # The four-eyes engine (compliance, above this app) hands over the request it executes.
    if (
        approval is None
        or getattr(approval, "action", None) != SET_ACTION
        or actor is None
        or approval.approved_by_id != actor.pk
        or approval.proposed_by_id in (None, actor.pk)
    ):
        raise RateJumpNeedsFourEyes(
            "This rate moves more than the bound from the one in force: one staff member "
            "proposes it, another approves"
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
        _check_setter(actor, approval,
                      exchange_rate_needs_four_eyes(mid_tiyn_per_btc=mid_tiyn_per_btc))  # fmt: skip
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
