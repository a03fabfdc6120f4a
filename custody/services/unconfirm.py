"""Credited deposits below their required confirmations: held until the chain decides.

A deposit counts as confirmed at ``max(its address's confirmations,
DEPOSIT_SPENDABLE_CONFIRMATIONS)``. Below that, although credited (a merchant's
0-confirmation HighSpeed invoice, or a reorg that put the transaction back in the
mempool), its amount is held on the credited account: the balance shows it, the
available balance does not, so nothing can pay it out, convert or refund it.

* ``confirmation_holds_place`` runs in the crediting transaction: a deposit credited
  below the line gets its hold before anything can spend it.
* ``confirmations_follow`` runs in every scan, after confirmations are refreshed: a
  confirmed credit that dropped below the line is held at once and a case opened; a held
  one that reached the line again is released. One the chain drops or double-spends is
  reversed by ``deposit_lose`` (custody/services/reorg.py), which voids the hold first.

If a reorg un-confirms money the owner already spent (available below the amount), the
account is frozen and the shortfall booked from suspense as a receivable (as a reversal
would), so the full amount is held; re-confirmation reverses that receivable.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.models import OWNED_KINDS, Account, AccountKind, HoldStatus, TransferCode
from accounts.services import (
    account_freeze,
    hold_create,
    hold_void,
    system_account,
    transfer_create,
    transfer_reverse,
)
from accounts.services.posting import lock_accounts
from compliance.services import case_open
from core.pg_arrays import int_array
from custody.models import Deposit, DepositStatus

logger = logging.getLogger("alatau.custody.deposits")

CREDITED = (DepositStatus.CREDITED, DepositStatus.SUSPENSE)
FOLLOW_MAX = 500


def confirmations_required(deposit: Deposit) -> int:
    """The confirmations from which the bank counts this deposit as confirmed."""
    address = deposit.deposit_address
    needed = address.confirmations_needed() if address else int(settings.DEPOSIT_CONFIRMATIONS)
    return max(needed, int(settings.DEPOSIT_SPENDABLE_CONFIRMATIONS))


class CreditedRow(NamedTuple):
    """A deposit just credited, as plain values (the crediting batch builds no models)."""

    deposit_id: int
    confirmations: int
    # The address's own count; None (no address, or no count of its own): the default.
    required_confirmations: int | None


def confirmation_holds_place(credited: list[CreditedRow]) -> int:
    """In the crediting transaction: hold what was credited below the line; mark the rest.

    ``credited`` are deposits the transaction credited (or put in suspense) and holds
    locked. Returns how many were held.
    """
    held = 0
    default = int(settings.DEPOSIT_CONFIRMATIONS)
    spendable = int(settings.DEPOSIT_SPENDABLE_CONFIRMATIONS)
    confirmed = []
    for row in credited:
        needed = default if row.required_confirmations is None else row.required_confirmations
        if row.confirmations >= max(needed, spendable):  # as confirmations_required
            confirmed.append(row.deposit_id)
        elif deposit_unconfirm(deposit_id=row.deposit_id):
            held += 1
    if confirmed:
        with connection.cursor() as cursor:  # one array literal, not a parameter per id
            cursor.execute(
                f"UPDATE {Deposit._meta.db_table} SET confirmed_at = %s"  # noqa: S608 - model's table
                " WHERE id = ANY(%s::bigint[]) AND confirmed_at IS NULL",
                [timezone.now(), int_array(confirmed)],
            )
    return held


def confirmations_follow() -> tuple[int, int]:
    """Hold credited deposits that dropped below the line, release those back above it.

    Returns (held, released). The line is computed in SQL, so only deposits on the
    wrong side of it are read; bounded per run, the next scan continues.
    """
    line = Greatest(
        Coalesce(F("deposit_address__required_confirmations"),
                 Value(int(settings.DEPOSIT_CONFIRMATIONS))),
        Value(int(settings.DEPOSIT_SPENDABLE_CONFIRMATIONS)),
    )  # fmt: skip
    credited = (
        Deposit.objects.filter(status__in=CREDITED, confirmations__gte=0)
        .annotate(line=line).order_by("pk")
    )  # fmt: skip
    dropped = credited.filter(unconfirmed=False, confirmations__lt=F("line"))
    held = sum(int(deposit_unconfirm(deposit_id=pk))
               for pk in dropped.values_list("pk", flat=True)[:FOLLOW_MAX])  # fmt: skip
    back = credited.filter(unconfirmed=True, confirmations__gte=F("line"))
    released = sum(int(deposit_reconfirm(deposit_id=pk))
                   for pk in back.values_list("pk", flat=True)[:FOLLOW_MAX])  # fmt: skip
    Deposit.objects.filter(
        pk__in=credited.filter(confirmed_at__isnull=True, confirmations__gte=F("line"))
        .values("pk")[:FOLLOW_MAX]
    ).update(confirmed_at=timezone.now())  # fmt: skip
    return held, released


def deposit_unconfirm(*, deposit_id: int) -> bool:
    """Hold a credited deposit's amount (it is below its confirmations); True if it changed."""
    with transaction.atomic():
        deposit = (
            Deposit.objects.select_for_update(of=("self",)).select_related("transfer")
            .filter(pk=deposit_id).first()
        )  # fmt: skip
        if deposit is None or deposit.status not in CREDITED or deposit.unconfirmed:
            return False
        transfer = deposit.transfer
        account = None
        if transfer is not None:
            account = lock_accounts([transfer.credit_account_id])[transfer.credit_account_id]
        if account is not None and account.kind in OWNED_KINDS:
            _hold(deposit, account)
        deposit.unconfirmed = True
        deposit.save(update_fields=["unconfirmed", "confirmation_hold", "shortfall_transfer",
                                    "updated_at"])  # fmt: skip
        if deposit.confirmed_at is not None:  # it had been confirmed: a reorg took that back
            _open_case(deposit, account)
        return True


def _hold(deposit: Deposit, account: Account) -> None:
    shortfall = max(0, deposit.amount_sats - account.available_minor)
    if shortfall:
        account_freeze(
            account_id=account.pk, actor=None,
            reason=f"unconfirmed deposit {deposit.txid}:{deposit.vout} already spent",
        )  # fmt: skip
        deposit.shortfall_transfer = transfer_create(
            debit_account_id=system_account(AccountKind.SUSPENSE, "BTC").pk,
            credit_account_id=account.pk,
            amount_minor=shortfall,
            code=TransferCode.ADJUSTMENT,
            idempotency_key=f"unconfirm-shortfall:{deposit.pk}:{timezone.now().isoformat()}",
            memo="receivable: unconfirmed deposit the owner had already spent",
            source=deposit,
        )
        logger.error("unconfirmed deposit %s already spent: %d sats short", deposit, shortfall)
    deposit.confirmation_hold = hold_create(
        account_id=account.pk,
        amount_minor=deposit.amount_sats,
        code=TransferCode.DEPOSIT,
        memo=f"unconfirmed deposit {deposit.txid}:{deposit.vout}",
        source=deposit,
        allow_frozen=True,
    )


def _open_case(deposit: Deposit, account: Account | None) -> None:
    held = "held" if deposit.confirmation_hold_id else "in suspense"
    case_open(
        kind="deposit_reorg",
        subject=deposit,
        summary=f"Credited deposit {deposit.txid}:{deposit.vout} lost its confirmations; "
        f"amount {held} until the chain decides",
        findings=[{
            "rule": "deposit_unconfirmed", "txid": deposit.txid, "vout": deposit.vout,
            "confirmations": deposit.confirmations,
            "required": confirmations_required(deposit),
            "account": account.number if account is not None else "",
            "shortfall_transfer": deposit.shortfall_transfer_id,
        }],
        customer=account.owner if account is not None else None,
        amount_minor=deposit.amount_sats,
        currency="BTC",
    )  # fmt: skip


def deposit_reconfirm(*, deposit_id: int) -> bool:
    """Release the hold of a deposit that reached its confirmations again; True if changed."""
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().filter(pk=deposit_id).first()
        if deposit is None or not deposit.unconfirmed or deposit.status not in CREDITED:
            return False
        release_hold(deposit, reason="deposit confirmed")
        if deposit.shortfall_transfer_id is not None:
            transfer_reverse(
                transfer_id=deposit.shortfall_transfer_id, actor=None,
                reason="deposit confirmed again: no receivable",
            )  # fmt: skip
            deposit.shortfall_transfer = None
        deposit.unconfirmed = False
        deposit.confirmed_at = deposit.confirmed_at or timezone.now()
        deposit.rebroadcast_result = ""  # a later eviction is a new story for the case
        deposit.save(update_fields=["unconfirmed", "confirmation_hold", "shortfall_transfer",
                                    "confirmed_at", "rebroadcast_result",
                                    "updated_at"])  # fmt: skip
        return True


def release_hold(deposit: Deposit, *, reason: str) -> None:
    """Void the deposit's confirmation hold if it is open (the caller saves the deposit)."""
    hold = deposit.confirmation_hold
    if hold is not None and hold.status == HoldStatus.OPEN:
        hold_void(hold_id=hold.pk, actor=None, reason=reason)
    deposit.confirmation_hold = None
