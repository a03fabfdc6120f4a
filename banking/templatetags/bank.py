"""Template filters for web banking: money with its currency and right decimals."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, pgettext_lazy

from core.errors import ApplicationError
from core.money import format_amount
from exchange.rates import kzt_per_btc_tiyn

register = template.Library()
# A narrow no-break space groups thousands and never breaks an amount across lines.
THIN_SPACE = "\u202f"
# A true minus sign reads better than a hyphen in amounts.
MINUS = "\u2212"
# Languages that write a decimal comma (Kazakh and Russian usage: 1 234,56).
DECIMAL_COMMA = ("kk", "ru")
SATS_PER_BTC = 100_000_000


def decimal_mark() -> str:
    """The decimal mark of the active language."""
    language = (get_language() or "en").split("-")[0]
    return "," if language in DECIMAL_COMMA else "."


@register.filter
def money(minor: int | None, currency: str) -> str:
    """Render minor units as "1 234.56 KZT" / "0.00150000 BTC" (thin-space grouping).

    The amount stays exact (integer minor units through ``format_amount``); only the
    decimal mark follows the language: a comma in Kazakh and Russian.
    """
    if minor is None:
        return ""
    return grouped(format_amount(int(minor), currency), currency, decimal_mark())


def grouped(text: str, currency: str, mark: str) -> str:
    """Group a ``format_amount`` text by thousands, with ``mark`` and the currency code."""
    sign = MINUS if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    fraction = f"{mark}{frac}" if frac else ""  # JPY has no minor unit
    return f"{sign}{int(whole):,}".replace(",", THIN_SPACE) + f"{fraction} {currency}"


@register.filter
def signed_money(minor: int, currency: str) -> str:
    """Like ``money`` with an explicit "+" for credits."""
    return ("+" if minor > 0 else "") + money(minor, currency)


@register.simple_tag(takes_context=True)
def kzt(context: template.Context, sats: int | None) -> str:
    """Return "≈ 1 234.56 KZT", the KZT value of ``sats`` at the current rate.

    The rate is read once per rendering (not once per row of a statement).
    """
    if sats is None:
        return ""
    cache = context.render_context
    if "kzt_rate_tiyn" not in cache:
        try:
            cache["kzt_rate_tiyn"] = kzt_per_btc_tiyn()
        except ApplicationError:  # no rate yet: show the BTC amount alone
            cache["kzt_rate_tiyn"] = 0
    rate = int(cache["kzt_rate_tiyn"])
    if not rate:
        return ""
    sats = int(sats)
    tiyn = (abs(sats) * rate + SATS_PER_BTC // 2) // SATS_PER_BTC
    return "≈\u00a0" + money(-tiyn if sats < 0 else tiyn, "KZT")


@register.simple_tag
def copy(text: Any) -> SafeString:
    """Return a button that copies ``text`` to the clipboard (static/js/bank.js)."""
    return format_html(
        '<button type="button" class="btn btn-copy" data-copy="{}" data-copied="{}">{}</button>',
        str(text),
        gettext("Copied"),
        gettext("Copy"),
    )


# What a customer calls each kind of movement.
MOVEMENT_LABELS = {
    "deposit": pgettext_lazy("movement", "Bitcoin deposit"),
    "withdrawal": pgettext_lazy("movement", "Bitcoin withdrawal"),
    "internal": pgettext_lazy("movement", "Transfer"),
    "payment": pgettext_lazy("movement", "Payment"),
    "fee": pgettext_lazy("movement", "Fee"),
    "exchange": pgettext_lazy("movement", "Exchange"),
    "reversal": pgettext_lazy("movement", "Reversal"),
    "adjustment": pgettext_lazy("movement", "Adjustment"),
    "refund": pgettext_lazy("movement", "Refund"),
}
# Movements whose memo was written by a person (shown); others carry technical memos.
PERSONAL_MEMO_CODES = ("internal", "payment", "refund")


@register.filter
def movement_label(transfer: Any) -> str:
    """Return the customer's name for a transfer's kind ("Bitcoin deposit", "Fee", ...)."""
    label = MOVEMENT_LABELS.get(transfer.code)
    return str(label) if label is not None else str(transfer.code).capitalize()


@register.filter
def movement_detail(transfer: Any) -> str:
    """Return the memo worth showing a customer: a person's message, else nothing."""
    return str(transfer.memo) if transfer.code in PERSONAL_MEMO_CODES else ""


# What a customer reads for a status value (withdrawals, deposits, identity, accounts).
# Kept here, in the door, so the domain apps' enums stay plain data.
STATUS_LABELS = {
    "requested": pgettext_lazy("status", "Requested"),
    "pending_review": pgettext_lazy("status", "Being reviewed"),
    "approved": pgettext_lazy("status", "Approved"),
    "batched": pgettext_lazy("status", "Being sent"),
    "broadcast": pgettext_lazy("status", "Sent"),
    "confirmed": pgettext_lazy("status", "Confirmed"),
    "rejected": pgettext_lazy("status", "Rejected"),
    "cancelled": pgettext_lazy("status", "Cancelled"),
    "failed": pgettext_lazy("status", "Failed"),
    "pending": pgettext_lazy("status", "Waiting for confirmations"),
    "credited": pgettext_lazy("status", "Credited"),
    "suspense": pgettext_lazy("status", "Under review"),
    "dust": pgettext_lazy("status", "Too small to credit"),
    "internal": pgettext_lazy("status", "Internal"),
    "reorged": pgettext_lazy("status", "Dropped by the network"),
    "none": pgettext_lazy("status", "Not verified"),
    "submitted": pgettext_lazy("status", "Submitted"),
    "active": pgettext_lazy("status", "Active"),
    "frozen": pgettext_lazy("status", "Frozen"),
    "closed": pgettext_lazy("status", "Closed"),
}


@register.filter
def status_label(value: Any) -> str:
    """Return the customer's words for a status value, in the active language."""
    label = STATUS_LABELS.get(str(value))
    return str(label) if label is not None else str(value).replace("_", " ").capitalize()
