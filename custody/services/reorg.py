"""A deposit the chain took back: mark it, and undo its credit if it had one."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.models import OWNED_KINDS, Account, AccountKind, Transfer
from accounts.services import account_freeze, system_account, transfer_create, transfer_reverse
from compliance.services import case_open
from custody.models import Deposit, DepositStatus
from custody.services.listeners import listeners_enqueue
from custody.services.unconfirm import release_hold

logger = logging.getLogger("alatau.custody.deposits")

SYSTEM_ACTOR = None  # the scanner acts as the system


def deposit_lose(*, deposit_id: int, reason: str) -> bool:
    """Mark a deposit reorged; if it was credited, open a case and reverse the credit.

    Returns True if the deposit changed. Idempotent: a deposit already marked is left alone.
    """
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().filter(pk=deposit_id).first()
        if deposit is None or deposit.status == DepositStatus.REORGED:
            return False
        credited = deposit.status in (DepositStatus.CREDITED, DepositStatus.SUSPENSE)
        transfer = deposit.transfer
        deposit.status = DepositStatus.REORGED
        if deposit.unconfirmed:  # its confirmation hold gives way to the reversal
            release_hold(deposit, reason=f"deposit {reason}")
            deposit.unconfirmed = False
        if credited and transfer is not None:
            deposit.reversals += 1
            _open_case(deposit, transfer, reason)
            shortfall = _reverse_credit(deposit, transfer, reason)
            if shortfall:
                logger.error("reorged deposit %s not covered: %d sats short", deposit, shortfall)
        deposit.transfer = None
        deposit.confirmed_at = None
        deposit.save(update_fields=["status", "reversals", "transfer", "unconfirmed",
                                    "confirmation_hold", "confirmed_at", "updated_at"])  # fmt: skip
        listeners_enqueue([deposit.pk])
        return True


def _open_case(deposit: Deposit, transfer: Transfer, reason: str) -> None:
    account = Account.objects.get(pk=transfer.credit_account_id)
    case_open(
        kind="deposit_reorg",
        subject=deposit,
        summary=f"Credited deposit {deposit.txid}:{deposit.vout} {reason}; credit reversed",
        findings=[{
            "rule": "deposit_reorg", "detail": reason, "txid": deposit.txid,
            "vout": deposit.vout, "transfer": transfer.pk, "account": account.number,
        }],
        customer=account.owner,
        amount_minor=deposit.amount_sats,
        currency="BTC",
    )  # fmt: skip


def _reverse_credit(deposit: Deposit, transfer: Transfer, reason: str) -> int:
    """Reverse the deposit's credit in full; return the shortfall booked (0 if none).

    The bitcoin never arrived, so custody_hot must get its debit back in full, or the
    ledger would claim coins the hot wallet does not hold. When the customer has already
    spent or reserved part of the credit, their available balance cannot cover the
    reversal and the account's CHECK (available >= 0) forbids taking it below zero.
    Then we:

    1. freeze the account, so nothing more leaves it while compliance works the case;
    2. credit the customer the shortfall from the BTC ``suspense`` account (code
       adjustment). Suspense goes negative by that amount: it now records a receivable,
       the debt the customer owes the bank, visible in the trial balance;
    3. post the full reversal, which leaves the customer at zero available.

    Every step is a balanced transfer, so per-currency sums stay zero, custody_hot again
    mirrors the wallet, and the loss is explicit and auditable rather than hidden.
    Open holds (e.g. a withdrawal already requested) keep their reservation; the case
    tells staff to reject what is not yet batched.
    """
    account = Account.objects.select_for_update().get(pk=transfer.credit_account_id)
    shortfall = 0
    if account.kind in OWNED_KINDS:
        shortfall = max(0, transfer.amount_minor - account.available_minor)
    if shortfall:
        account_freeze(
            account_id=account.pk, actor=SYSTEM_ACTOR,
            reason=f"reorged deposit {deposit.txid}:{deposit.vout} not covered",
        )  # fmt: skip
        suspense = system_account(AccountKind.SUSPENSE, "BTC")
        transfer_create(
            debit_account_id=suspense.pk,
            credit_account_id=account.pk,
            amount_minor=shortfall,
            code="adjustment",
            idempotency_key=f"reorg-shortfall:{deposit.txid}:{deposit.vout}:{deposit.reversals}",
            memo="receivable: reorged deposit the customer could not cover",
            source=deposit,
        )
    transfer_reverse(transfer_id=transfer.pk, actor=SYSTEM_ACTOR, reason=f"deposit {reason}")
    return shortfall
