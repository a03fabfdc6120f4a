"""A customer's withdrawal from web banking: second factor, saved address, limits, custody.

Custody's ``withdrawal_request`` owns the withdrawal itself (hold, screening,
state). This adds what the customer door requires first: a current second
factor, a saved address past its cool-down, the tier limits and travel-rule data.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import AccountFrozen, InsufficientFunds
from accounts.models import Account, AccountStatus
from accounts.selectors import customer_account
from accounts.services.twofactor import twofactor_check, twofactor_enabled
from compliance.services import limits_check, travel_rule_required, travel_rule_validate
from core.errors import ValidationFailed
from core.money import format_amount
from custody.models import Withdrawal, WithdrawalAddress
from custody.selectors import withdrawal_fee_sats
from custody.services import withdrawal_request
from custody.services.withdrawal_addresses import withdrawal_address_usable
from custody.services.withdrawals import withdrawal_address_checked
from exchange.rates import kzt_value_tiyn


def btc_account(*, user: Any) -> Account:
    return customer_account(owner=user, currency="BTC")


def withdrawal_needs_travel_rule(*, amount_sats: int) -> bool:
    return travel_rule_required(kzt_value_tiyn(amount_minor=amount_sats, currency="BTC"))


def customer_withdrawal_precheck(*, user: Any, address_id: int, amount_sats: int) -> None:
    """Refuse, before any 2FA code is asked for or spent, what the request would refuse.

    The address must be past its cool-down, the amount within the bank's bounds and
    the available balance (with the fee), the account not frozen, and the amount
    within the customer's limits. Writes nothing.
    """
    saved = WithdrawalAddress.objects.filter(
        pk=address_id, user=user, removed_at__isnull=True
    ).first()
    if saved is not None and saved.usable_from > timezone.now():
        when = timezone.localtime(saved.usable_from)
        message = _(
            "This address is new: for your safety it can be used from %(when)s (cool-down)."
        ) % {"when": f"{when:%d.%m.%Y %H:%M}"}
        raise ValidationFailed("Address cooling down", fields={"address": [message]})
    withdrawal_address_usable(user=user, address_id=address_id)
    account = btc_account(user=user)
    if account.status == AccountStatus.FROZEN:
        raise AccountFrozen(
            "Account frozen",
            fields={"amount": [_("Your account is frozen: withdrawals are paused.")]},
        )
    low, high = int(settings.WITHDRAWAL_MIN_SATS), int(settings.WITHDRAWAL_MAX_SATS)
    if amount_sats < low:
        message = _("The smallest withdrawal is %(amount)s.") % {"amount": _btc(low)}
        raise ValidationFailed("Amount below the minimum", fields={"amount": [message]})
    if amount_sats > high:
        message = _("The largest withdrawal is %(amount)s.") % {"amount": _btc(high)}
        raise ValidationFailed("Amount above the maximum", fields={"amount": [message]})
    fee = withdrawal_fee_sats()
    if amount_sats + fee > account.available_minor:
        message = _(
            "You have %(available)s available; with the fee of %(fee)s this needs %(total)s."
        ) % {
            "available": _btc(account.available_minor),
            "fee": _btc(fee),
            "total": _btc(amount_sats + fee),
        }
        raise InsufficientFunds("Insufficient funds", fields={"amount": [message]})
    with transaction.atomic():
        limits_check(
            user=user,
            kind="withdrawal",
            amount_kzt_tiyn=kzt_value_tiyn(amount_minor=amount_sats + fee, currency="BTC"),
        )


def _btc(sats: int) -> str:
    return format_amount(sats, "BTC", with_code=True)


def customer_withdrawal_request(
    *,
    user: Any,
    address_id: int,
    amount_sats: int,
    idempotency_key: str,
    otp_code: str,
    travel_rule: dict[str, Any] | None = None,
    client_address: str | None = None,
) -> Withdrawal:
    """Request a withdrawal to a saved address, once per idempotency key.

    A repeated submit with the same key returns the first withdrawal before the
    second factor is checked again (a TOTP code works only once). The address is
    checked with the node before the limits' transaction is opened.
    """
    account = btc_account(user=user)
    saved = withdrawal_address_usable(user=user, address_id=address_id)
    request = functools.partial(
        withdrawal_request,
        account=account,
        amount_sats=amount_sats,
        requested_by=user,
        idempotency_key=idempotency_key,
        client_address=client_address,
    )
    earlier = Withdrawal.objects.filter(requested_by=user, idempotency_key=idempotency_key).first()
    if earlier is not None:
        return request(address=saved.address, travel_rule=earlier.travel_rule)
    if not twofactor_enabled(user):
        raise ValidationFailed(
            "Two-factor required",
            fields={"otp_code": [_("Turn on two-factor authentication to withdraw.")]},
        )
    customer_withdrawal_precheck(user=user, address_id=address_id, amount_sats=amount_sats)
    cleaned_travel = None
    if withdrawal_needs_travel_rule(amount_sats=amount_sats):
        cleaned_travel = travel_rule_validate(travel_rule or {})
    twofactor_check(user=user, code=otp_code)
    destination = withdrawal_address_checked(saved.address)
    with transaction.atomic():
        limits_check(
            user=user,
            kind="withdrawal",
            amount_kzt_tiyn=kzt_value_tiyn(
                amount_minor=amount_sats + withdrawal_fee_sats(), currency="BTC"
            ),
        )
        return request(address=destination, travel_rule=cleaned_travel)
