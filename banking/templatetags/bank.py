"""Template filters for web banking: money with its currency and right decimals."""

from __future__ import annotations

from typing import Any

from django import template

from core.money import format_amount

register = template.Library()
# A narrow no-break space groups thousands and never breaks an amount across lines.
THIN_SPACE = "\u202f"
# A true minus sign reads better than a hyphen in amounts.
MINUS = "\u2212"


@register.filter
def money(minor: int | None, currency: str) -> str:
    """Render minor units as "1 234.56 KZT" / "0.00150000 BTC" (thin-space grouping)."""
    if minor is None:
        return ""
    text = format_amount(int(minor), currency)
    sign = MINUS if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}{THIN_SPACE.join(groups)}.{frac} {currency}"


@register.filter
def signed_money(minor: int, currency: str) -> str:
    """Like ``money`` with an explicit "+" for credits."""
    return ("+" if minor > 0 else "") + money(minor, currency)


# What a customer calls each kind of movement.
MOVEMENT_LABELS = {
    "deposit": "Bitcoin deposit",
    "withdrawal": "Bitcoin withdrawal",
    "internal": "Transfer",
    "payment": "Payment",
    "fee": "Fee",
    "exchange": "Exchange",
    "reversal": "Reversal",
    "adjustment": "Adjustment",
    "refund": "Refund",
}
# Movements whose memo was written by a person (shown); others carry technical memos.
PERSONAL_MEMO_CODES = ("internal", "payment", "refund")


@register.filter
def movement_label(transfer: Any) -> str:
    """Return the customer's name for a transfer's kind ("Bitcoin deposit", "Fee", ...)."""
    return MOVEMENT_LABELS.get(transfer.code, str(transfer.code).capitalize())


@register.filter
def movement_detail(transfer: Any) -> str:
    """Return the memo worth showing a customer: a person's message, else nothing."""
    return str(transfer.memo) if transfer.code in PERSONAL_MEMO_CODES else ""
