"""Changing the bank's exchange rate is a controlled change.

Within ``EXCHANGE_RATE_JUMP_MAX_BP`` of the rate in force one staff member sets it;
a bigger move is proposed here and set only when a different staff member approves
(the exchange desk's ``exchange_rate_set`` refuses the jump any other way).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from accounts.actor import Actor
from compliance.models import ApprovalRequest
from compliance.services.approvals import approval_action_register, approval_propose
from exchange.models import ExchangeRate
from exchange.services import exchange_rate_check, exchange_rate_needs_four_eyes, exchange_rate_set
from exchange.services.rates import SET_ACTION, SET_PERMISSION


def exchange_rate_change(
    *,
    actor: Actor,
    mid_tiyn_per_btc: int,
    spread_bp: int,
    reason: str = "",
    client_address: str | None = None,
) -> ExchangeRate | ApprovalRequest:
    """Set the rate now, or (a jump over the bound) propose it for a second approver."""
    exchange_rate_check(mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp)
    if not exchange_rate_needs_four_eyes(mid_tiyn_per_btc=mid_tiyn_per_btc):
        return exchange_rate_set(mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp,
                                 actor=actor, client_address=client_address)  # fmt: skip
    return approval_propose(
        actor=actor,
        action=SET_ACTION,
        target_type=ExchangeRate._meta.label_lower,
        target_id="next",
        params={"mid_tiyn_per_btc": mid_tiyn_per_btc, "spread_bp": spread_bp},
        reason=reason or "the rate moves more than the bound from the one in force",
        client_address=client_address,
    )


def _rate_set_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    rate = exchange_rate_set(
        mid_tiyn_per_btc=int(request.params["mid_tiyn_per_btc"]),
        spread_bp=int(request.params["spread_bp"]),
        actor=actor,
        approval=request,
    )
    return {"exchange_rate_id": rate.pk}


approval_action_register(
    SET_ACTION, permission=SET_PERMISSION, executor=_rate_set_execute,
    description=gettext_noop("Set an exchange rate that jumps over the bound"),
)  # fmt: skip
