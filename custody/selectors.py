"""Reads of custody state for web banking, merchants, staff and reports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import Account
from custody.addresses import bip21_uri
from custody.models import (
    Deposit,
    DepositAddress,
    Withdrawal,
    WithdrawalAddress,
    WithdrawalStatus,
)

PAGE_MAX = 200
OPEN_STATUSES = (
    WithdrawalStatus.REQUESTED, WithdrawalStatus.PENDING_REVIEW, WithdrawalStatus.APPROVED,
    WithdrawalStatus.BATCHED, WithdrawalStatus.BROADCAST,
)  # fmt: skip


def deposit_address_current(*, account: Account) -> DepositAddress | None:
    """Return the newest customer deposit address of an account, or None."""
    return (
        DepositAddress.objects.filter(account=account, purpose="customer")
        .order_by("-created_at", "-id")
        .first()
    )


def deposit_address_bip21(*, deposit_address: DepositAddress, amount_sats: int | None = None,
                          label: str = "") -> str:  # fmt: skip
    """Return the BIP21 payment link for a deposit address."""
    return bip21_uri(deposit_address.address, amount_sats=amount_sats,
                     label=label or deposit_address.label)  # fmt: skip


def deposits_for_account(*, account: Account, limit: int = 50) -> QuerySet[Deposit]:
    """Return an account's deposits, newest first (bounded)."""
    return Deposit.objects.filter(deposit_address__account=account).order_by("-id")[
        : min(limit, PAGE_MAX)
    ]


def withdrawals_for_account(*, account: Account, limit: int = 50) -> QuerySet[Withdrawal]:
    """Return an account's withdrawals, newest first (bounded)."""
    return Withdrawal.objects.filter(account=account).order_by("-id")[: min(limit, PAGE_MAX)]


def withdrawal_get(*, withdrawal_id: int, user: Any) -> Withdrawal | None:
    """Return one of the user's own withdrawals, or None."""
    return Withdrawal.objects.filter(pk=withdrawal_id, requested_by=user).first()


def withdrawal_addresses_active(*, user: Any) -> QuerySet[WithdrawalAddress]:
    """Return the user's saved withdrawal addresses that are not removed (cooling down too).

    The one query for "the customer's addresses": listed, offered in the withdraw form,
    checked before use (``withdrawal_address_usable`` adds the cool-down), counted.
    """
    return WithdrawalAddress.objects.filter(user=user, removed_at__isnull=True)


def withdrawal_fee_sats() -> int:
    """Return the bank's published withdrawal fee (what a request holds on top)."""
    return int(settings.WITHDRAWAL_FEE_SATS)


def unconfirmed_held_sats(*, account_id: int) -> int:
    """Return what is held on an account for credited deposits below their confirmations."""
    from django.db.models import Sum

    from accounts.models import HoldStatus

    total = Deposit.objects.filter(
        unconfirmed=True,
        confirmation_hold__account_id=account_id,
        confirmation_hold__status=HoldStatus.OPEN,
    ).aggregate(total=Sum("amount_sats"))["total"]
    return int(total or 0)


def unconfirmed_credited_sats() -> dict[str, int]:
    """Credited deposits below their confirmations: on the node, not counted as confirmed.

    ``total_sats``: all of them (customer, merchant and suspense credits);
    ``held_sats``: the part held on customer and merchant accounts.
    """
    from django.db.models import Sum

    rows = Deposit.objects.filter(unconfirmed=True)
    total = rows.aggregate(total=Sum("amount_sats"))["total"]
    held = rows.filter(confirmation_hold__isnull=False).aggregate(total=Sum("amount_sats"))
    return {"total_sats": int(total or 0), "held_sats": int(held["total"] or 0)}
