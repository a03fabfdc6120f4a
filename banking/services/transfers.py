"""Transfers from one customer to another, by account number (IBAN) or email."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.errors import InsufficientFunds
from accounts.models import Account, AccountKind, AccountStatus, Transfer, TransferCode, User
from accounts.services.transfers import transfer_create
from accounts.services.twofactor import (
    transfer_2fa_threshold,
    transfer_needs_2fa,
    twofactor_check,
    twofactor_enabled,
)
from compliance.services import limits_check
from core.errors import NotFound, ValidationFailed
from core.money import check_minor, format_amount
from exchange.rates import kzt_value_tiyn

_NO_RECIPIENT = gettext_lazy("No Alatau customer with this account number or email.")


def recipient_resolve(*, sender: Any, query: str, currency: str) -> Account:
    """Return the recipient's customer account in ``currency`` from an IBAN or an email."""
    text = "".join(query.split())
    if not text:
        raise ValidationFailed(
            "Recipient required", fields={"recipient": [_("Enter an account number or email.")]}
        )
    if "@" in text:
        account = (
            Account.objects.select_related("owner")
            .filter(
                owner__email__iexact=text,
                owner__is_active=True,
                owner__is_staff=False,
                kind=AccountKind.CUSTOMER,
                currency=currency,
            )
            .first()
        )
    else:
        account = (
            Account.objects.select_related("owner")
            .filter(number=text.upper(), kind=AccountKind.CUSTOMER, owner__is_active=True)
            .first()
        )
        if account is not None and account.currency != currency:
            raise ValidationFailed(
                "Currency mismatch",
                fields={
                    "recipient": [
                        _("This account holds %(held)s, not %(sent)s.")
                        % {"held": account.currency, "sent": currency}
                    ]
                },
            )
    if account is None or account.status == AccountStatus.CLOSED:
        raise ValidationFailed(str(_NO_RECIPIENT), fields={"recipient": [str(_NO_RECIPIENT)]})
    if account.owner_id == sender.pk:
        raise ValidationFailed(
            "Own account",
            fields={"recipient": [_("This is your own account. Use Exchange instead.")]},
        )
    return account


def sender_account(*, sender: Any, account_id: int) -> Account:
    """Return one of the sender's own customer accounts, or raise NotFound."""
    account = Account.objects.filter(pk=account_id, owner=sender, kind=AccountKind.CUSTOMER).first()
    if account is None:
        raise NotFound("Account not found")
    return account


def customer_transfer_create(
    *,
    sender: Any,
    debit_account_id: int,
    recipient: str,
    amount_minor: int,
    idempotency_key: str,
    memo: str = "",
    otp_code: str = "",
    client_address: str | None = None,
) -> Transfer:
    """Send money to another customer, once per idempotency key.

    A repeated submit with the same key returns the first transfer (before the
    second factor is checked again: a TOTP code works only once).
    """
    debit = sender_account(sender=sender, account_id=debit_account_id)
    check_minor(amount_minor, debit.currency)
    credit = recipient_resolve(sender=sender, query=recipient, currency=debit.currency)
    memo = " ".join(memo.split())[:140]
    earlier = Transfer.objects.filter(initiator=sender, idempotency_key=idempotency_key).exists()
    if not earlier and transfer_needs_2fa(currency=debit.currency, amount_minor=amount_minor):
        if not twofactor_enabled(sender):
            limit = format_amount(
                transfer_2fa_threshold(debit.currency), debit.currency, with_code=True
            )
            raise ValidationFailed(
                "Two-factor required",
                fields={
                    "amount": [
                        _("Turn on two-factor authentication to send %(limit)s or more.")
                        % {"limit": limit}
                    ]
                },
            )
        twofactor_check(user=sender, code=otp_code)
    if earlier:
        return _post(sender, debit, credit, amount_minor, idempotency_key, memo, client_address)
    with transaction.atomic():
        limits_check(
            user=sender,
            kind="transfer",
            amount_kzt_tiyn=kzt_value_tiyn(amount_minor=amount_minor, currency=debit.currency),
        )
        return _post(sender, debit, credit, amount_minor, idempotency_key, memo, client_address)


def _post(
    sender: Any,
    debit: Account,
    credit: Account,
    amount_minor: int,
    key: str,
    memo: str,
    client_address: str | None,
) -> Transfer:
    try:
        return transfer_create(
            debit_account_id=debit.pk,
            credit_account_id=credit.pk,
            amount_minor=amount_minor,
            code=TransferCode.INTERNAL,
            initiator=sender,
            idempotency_key=key,
            memo=memo,
            client_address=client_address,
        )
    except InsufficientFunds:
        raise InsufficientFunds(
            "Not enough money",
            fields={"amount": [_("You don't have enough available money for this.")]},
        ) from None


def transfer_for_user(*, user: User, transfer_id: int) -> Transfer:
    """Return a transfer touching one of the user's accounts, or raise NotFound."""
    transfer = (
        Transfer.objects.select_related("debit_account", "credit_account")
        .filter(pk=transfer_id)
        .filter(_touches_user(user))
        .first()
    )
    if transfer is None:
        raise NotFound("Transfer not found")
    return transfer


def _touches_user(user: User) -> Q:
    return Q(debit_account__owner=user, debit_account__kind=AccountKind.CUSTOMER) | Q(
        credit_account__owner=user, credit_account__kind=AccountKind.CUSTOMER
    )
