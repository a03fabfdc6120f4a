"""A customer's exchange quote: only for money the customer has, on an account that may move."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import AccountFrozen, InsufficientFunds
from accounts.models import AccountStatus
from accounts.selectors import customer_account
from core.money import format_amount
from exchange.models import Quote, QuoteDirection
from exchange.services import quote_create


def customer_quote_create(*, user: Any, direction: str, amount_in_minor: int) -> Quote:
    """Quote an exchange, refusing first what accepting it would refuse.

    A quote the customer cannot pay for (more than the available balance, or from a
    frozen account) would only fail when accepted, after the countdown: say so now.
    """
    currency = "BTC" if direction == QuoteDirection.BTC_TO_KZT else "KZT"
    if direction in QuoteDirection.values:
        account = customer_account(owner=user, currency=currency)
        if account.status == AccountStatus.FROZEN:
            raise AccountFrozen(
                "Account frozen",
                fields={"amount": [_("Your account is frozen: exchange is paused.")]},
            )
        if amount_in_minor > account.available_minor:
            available = format_amount(account.available_minor, currency, with_code=True)
            message = _("You have %(available)s available to exchange.") % {"available": available}
            raise InsufficientFunds("Insufficient funds", fields={"amount": [message]})
    return quote_create(user=user, direction=direction, amount_in_minor=amount_in_minor)
