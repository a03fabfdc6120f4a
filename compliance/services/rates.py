"""Changing one of the bank's rates is a controlled change.

Within ``EXCHANGE_RATE_JUMP_MAX_BP`` of the rate in force one staff member sets it;
a bigger move is proposed here and set only when a different staff member approves
(the exchange desk's setters refuse the jump any other way). The same path serves the
BTC/KZT rate (``exchange_rate_set``) and the fiat pricing rates (``pricing_rate_set``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from compliance.models import ApprovalRequest
from compliance.services.approvals import approval_action_register, approval_propose
from exchange.models import ExchangeRate, PricingRate
from exchange.services import (
    exchange_rate_check,
    exchange_rate_needs_four_eyes,
    exchange_rate_set,
    pricing_rate_check,
    pricing_rate_needs_four_eyes,
    pricing_rate_set,
)
from exchange.services.pricing_rates import PRICING_SET_ACTION, PRICING_SET_PERMISSION
from exchange.services.rates import SET_ACTION, SET_PERMISSION

Rate = TypeVar("Rate", ExchangeRate, PricingRate)


def _set_or_propose(
    *,
    actor: Actor,
    needs_four_eyes: bool,
    set_now: Callable[[], Rate],
    action: str,
    model: type[models.Model],
    target_id: str,
    params: dict[str, Any],
    reason: str,
    client_address: str | None,
) -> Rate | ApprovalRequest:
    if not needs_four_eyes:
        return set_now()
    return approval_propose(
        actor=actor,
        action=action,
        target_type=model._meta.label_lower,
        target_id=target_id,
        params=params,
        reason=reason or "the rate moves more than the bound from the one in force",
        client_address=client_address,
    )


def exchange_rate_change(
    *,
    actor: Actor,
    mid_tiyn_per_btc: int,
    spread_bp: int,
    reason: str = "",
    client_address: str | None = None,
) -> ExchangeRate | ApprovalRequest:
    """Set the BTC/KZT rate now, or (a jump over the bound) propose it for a second approver."""
    exchange_rate_check(mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp)
    return _set_or_propose(
        actor=actor,
        needs_four_eyes=exchange_rate_needs_four_eyes(mid_tiyn_per_btc=mid_tiyn_per_btc),
        set_now=lambda: exchange_rate_set(mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp,
                                          actor=actor, client_address=client_address),
        action=SET_ACTION, model=ExchangeRate, target_id="next",
        params={"mid_tiyn_per_btc": mid_tiyn_per_btc, "spread_bp": spread_bp},
        reason=reason, client_address=client_address,
    )  # fmt: skip


def pricing_rate_change(
    *,
    actor: Actor,
    currency: str,
    minor_per_btc: int,
    reason: str = "",
    client_address: str | None = None,
) -> PricingRate | ApprovalRequest:
    """Set a fiat pricing rate now, or (a jump over the bound) propose it for a second approver."""
    pricing_rate_check(currency=currency, minor_per_btc=minor_per_btc)
    return _set_or_propose(
        actor=actor,
        needs_four_eyes=pricing_rate_needs_four_eyes(currency=currency,
                                                     minor_per_btc=minor_per_btc),
        set_now=lambda: pricing_rate_set(currency=currency, minor_per_btc=minor_per_btc,
                                         actor=actor, client_address=client_address),
        action=PRICING_SET_ACTION, model=PricingRate, target_id=currency,
        params={"currency": currency, "minor_per_btc": minor_per_btc},
        reason=reason, client_address=client_address,
    )  # fmt: skip


def _rate_set_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    rate = exchange_rate_set(
        mid_tiyn_per_btc=int(request.params["mid_tiyn_per_btc"]),
        spread_bp=int(request.params["spread_bp"]),
        actor=actor,
        approval=request,
    )
    return {"exchange_rate_id": rate.pk}


def _pricing_rate_set_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    rate = pricing_rate_set(
        currency=str(request.params["currency"]),
        minor_per_btc=int(request.params["minor_per_btc"]),
        actor=actor,
        approval=request,
    )
    return {"pricing_rate_id": rate.pk}


approval_action_register(
    SET_ACTION, permission=SET_PERMISSION, executor=_rate_set_execute,
    description=gettext_noop("Set an exchange rate that jumps over the bound"),
)  # fmt: skip
approval_action_register(
    PRICING_SET_ACTION, permission=PRICING_SET_PERMISSION, executor=_pricing_rate_set_execute,
    description="Set a fiat pricing rate that jumps over the bound",
)  # fmt: skip
