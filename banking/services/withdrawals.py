"""A customer's withdrawal from web banking: second factor, saved address, limits, custody.

Custody's ``withdrawal_request`` owns the withdrawal itself (hold, screening,
state). This adds what the customer door requires first: a current second
factor, a saved address past its cool-down, the tier limits and travel-rule data.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction

from accounts.models import Account
from accounts.selectors import customer_account
from accounts.services.twofactor import twofactor_check, twofactor_enabled
from compliance.services import limits_check, travel_rule_required, travel_rule_validate
from core.errors import ValidationFailed
from custody.models import Withdrawal
from custody.selectors import withdrawal_fee_sats
from custody.services import withdrawal_request
from custody.services.withdrawal_addresses import withdrawal_address_usable
from custody.services.withdrawals import withdrawal_address_checked
from exchange.rates import kzt_value_tiyn


def btc_account(*, user: Any) -> Account:
    return customer_account(owner=user, currency="BTC")


def withdrawal_needs_travel_rule(*, amount_sats: int) -> bool:
    return travel_rule_required(kzt_value_tiyn(amount_minor=amount_sats, currency="BTC"))


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
            fields={"otp_code": ["Turn on two-factor authentication to withdraw."]},
        )
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
