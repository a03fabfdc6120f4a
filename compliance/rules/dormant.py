"""A customer who moved nothing for a long time and suddenly sends money goes to review."""

from __future__ import annotations

from compliance.rules.base import REVIEW, Finding, Movement, rule
from compliance.rules.history import last_activity


@rule(
    "dormant",
    description="No activity for inactive_days, then a movement at or over min_amount_tiyn",
    defaults={"inactive_days": 180, "min_amount_tiyn": 0},
)
def dormant(movement: Movement, params: dict[str, int]) -> Finding | None:
    if movement.amount_kzt_tiyn < params["min_amount_tiyn"]:
        return None
    idle = movement.at - last_activity(movement)
    idle_days = idle.days
    if idle_days < params["inactive_days"]:
        return None
    return Finding(
        "dormant",
        REVIEW,
        "dormant account suddenly active",
        {"idle_days": idle_days, "inactive_days": params["inactive_days"]},
    )
