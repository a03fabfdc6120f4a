"""Deposit addresses: a new hot-wallet address for an account on request."""

from __future__ import annotations

from django.db import transaction

from accounts.actor import Actor
from accounts.errors import AccountClosed, AccountFrozen
from accounts.models import OWNED_KINDS, Account, AccountKind, AccountStatus
from accounts.services import system_account
from audit.chain import audit_record
from core.errors import ValidationFailed
from custody.addresses import address_parse
from custody.models import AddressPurpose, DepositAddress
from custody.node import hot_wallet

CONFIRMATIONS_MAX = 100


def deposit_address_new(
    *,
    account: Account,
    purpose: str = AddressPurpose.CUSTOMER,
    required_confirmations: int | None = None,
    label: str = "",
    actor: Actor = None,
) -> DepositAddress:
    """Ask the hot wallet for a new bech32 address and record it for ``account``.

    Old addresses stay valid. The address is fetched before the row is written: if the
    write fails, money later sent to that orphan address lands in suspense with a case,
    so it is never lost or credited to the wrong account.
    """
    if account.currency != "BTC" or account.kind not in OWNED_KINDS:
        raise ValidationFailed("Deposit addresses exist only for customer or merchant BTC accounts")
    if account.status == AccountStatus.FROZEN:
        raise AccountFrozen(f"Account {account.number} is frozen")
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed(f"Account {account.number} is closed")
    if purpose not in (AddressPurpose.CUSTOMER, AddressPurpose.INVOICE):
        raise ValidationFailed("Unknown purpose", fields={"purpose": ["customer or invoice."]})
    if required_confirmations is not None and not 0 <= required_confirmations <= CONFIRMATIONS_MAX:
        raise ValidationFailed(
            "Confirmations out of range",
            fields={"required_confirmations": [f"0 to {CONFIRMATIONS_MAX}."]},
        )
    address = address_parse(str(hot_wallet().call("getnewaddress", "", "bech32"))).address
    with transaction.atomic():
        row = DepositAddress.objects.create(
            account=account, address=address, purpose=purpose,
            required_confirmations=required_confirmations, label=label[:100],
        )  # fmt: skip
        audit_record(
            actor=actor, action="deposit_address.create", obj=row,
            data={"account": account.pk, "address": address, "purpose": purpose},
        )  # fmt: skip
    return row


def internal_address_new(*, label: str = "", actor: Actor = None) -> DepositAddress:
    """A hot-wallet address for the bank's own coins (e.g. cold-to-hot moves).

    Outputs paid to it are recorded by the scanner but never credited to anyone.
    """
    hot_account = system_account(AccountKind.CUSTODY_HOT, "BTC")
    address = address_parse(str(hot_wallet().call("getnewaddress", "", "bech32"))).address
    with transaction.atomic():
        row = DepositAddress.objects.create(
            account=hot_account, address=address, purpose=AddressPurpose.INTERNAL,
            label=label[:100],
        )  # fmt: skip
        audit_record(
            actor=actor, action="deposit_address.create", obj=row,
            data={"account": hot_account.pk, "address": address, "purpose": row.purpose},
        )  # fmt: skip
    return row
