"""Template tags of the merchant pages: the store summary on a merchant's personal dashboard."""

from __future__ import annotations

from typing import Any

from django import template

from merchants.models import Merchant
from merchants.selectors_sales import store_balances

register = template.Library()


@register.inclusion_tag("merchant/_store_summary.html")
def store_summary(merchant: Merchant | None) -> dict[str, Any]:
    """The store's balances (with KZT values) and a link to its dashboard."""
    if merchant is None:
        return {"merchant": None, "balances": []}
    return {"merchant": merchant, "balances": store_balances(merchant=merchant)}
