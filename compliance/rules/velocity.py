"""Many movements, or a large total, within a time window go to review."""

from __future__ import annotations

from compliance.rules.base import REVIEW, Finding, Movement, rule
from compliance.rules.history import count_and_sum, earlier_movements


@rule(
    "velocity",
    description="In window_minutes, count (this one included) reaches count_min "
    "or the KZT total reaches sum_tiyn_min",
    defaults={"window_minutes": 24 * 60, "count_min": 10, "sum_tiyn_min": 300_000_000},
)
def velocity(movement: Movement, params: dict[str, int]) -> Finding | None:
    count, total = count_and_sum(
        earlier_movements(movement, window_minutes=params["window_minutes"])
    )
    count += 1
    total += movement.amount_kzt_tiyn
    if count < params["count_min"] and total < params["sum_tiyn_min"]:
        return None
    return Finding(
        "velocity",
        REVIEW,
        "too many or too much in the window",
        {
            "count": count,
            "sum_tiyn": total,
            "count_min": params["count_min"],
            "sum_tiyn_min": params["sum_tiyn_min"],
            "window_minutes": params["window_minutes"],
        },
    )
