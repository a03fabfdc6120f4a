"""The first withdrawal to an address the customer never used goes to review."""

from __future__ import annotations

from compliance.rules.base import REVIEW, Finding, Movement, rule
from compliance.rules.history import address_used_before


@rule(
    "first_address",
    description="First withdrawal to an address, at or over min_amount_tiyn",
    defaults={"min_amount_tiyn": 50_000_000},
    kinds=("withdrawal",),
)
def first_address(movement: Movement, params: dict[str, int]) -> Finding | None:
    if not movement.address or movement.amount_kzt_tiyn < params["min_amount_tiyn"]:
        return None
    if address_used_before(movement):
        return None
    return Finding(
        "first_address",
        REVIEW,
        "first withdrawal to this address",
        {
            "address": movement.address,
            "amount_kzt_tiyn": movement.amount_kzt_tiyn,
            "min_amount_tiyn": params["min_amount_tiyn"],
        },
    )
