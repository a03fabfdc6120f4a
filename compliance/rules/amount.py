"""Single movements at or over a KZT threshold go to review."""

from __future__ import annotations

from compliance.rules.base import REVIEW, Finding, Movement, rule


@rule(
    "large_amount",
    description="One movement at or over threshold_tiyn (KZT equivalent)",
    defaults={"threshold_tiyn": 100_000_000},
)
def large_amount(movement: Movement, params: dict[str, int]) -> Finding | None:
    threshold = params["threshold_tiyn"]
    if movement.amount_kzt_tiyn < threshold:
        return None
    return Finding(
        "large_amount",
        REVIEW,
        "amount at or over the single-movement threshold",
        {"amount_kzt_tiyn": movement.amount_kzt_tiyn, "threshold_tiyn": threshold},
    )
