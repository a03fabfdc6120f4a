"""Several movements just below a threshold within a window go to review."""

from __future__ import annotations

from compliance.rules.base import REVIEW, Finding, Movement, rule
from compliance.rules.history import earlier_movements


@rule(
    "structuring",
    description="count_min movements (this one included) in window_minutes with "
    "threshold_tiyn - margin_tiyn <= amount < threshold_tiyn",
    defaults={
        "threshold_tiyn": 100_000_000,
        "margin_tiyn": 10_000_000,
        "window_minutes": 7 * 24 * 60,
        "count_min": 3,
    },
)
def structuring(movement: Movement, params: dict[str, int]) -> Finding | None:
    low = params["threshold_tiyn"] - params["margin_tiyn"]
    high = params["threshold_tiyn"]
    if not low <= movement.amount_kzt_tiyn < high:
        return None
    earlier = earlier_movements(movement, window_minutes=params["window_minutes"]).filter(
        amount_kzt_tiyn__gte=low, amount_kzt_tiyn__lt=high
    )
    count = earlier.count() + 1
    if count < params["count_min"]:
        return None
    return Finding(
        "structuring",
        REVIEW,
        "several movements just below the threshold",
        {
            "count": count,
            "count_min": params["count_min"],
            "band_low_tiyn": low,
            "band_high_tiyn": high,
            "window_minutes": params["window_minutes"],
        },
    )
