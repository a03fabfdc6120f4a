"""Paying approved withdrawals: build+sign+commit a batch, broadcast it, confirm it.

The rules of spending from the hot wallet (builder lock, unsent-spend guard, fee rate,
orphaned coins, broadcast verdict) and the signed -> broadcast -> confirmed/failed
lifecycle live in ``custody.hotwallet`` (its docstring says why a crash can never pay
twice). This module adds what is particular to withdrawals: which ones go in a batch,
and their holds (posted when the batch has WITHDRAWAL_CONFIRMATIONS, voided if it fails).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AccountKind, AccountStatus
from accounts.services import (
    accounts_lock,
    hold_post,
    hold_void,
    system_account,
    transfer_create,
)
from accounts.services.holds import Leg
from audit.chain import audit_record
from compliance.models import Case, CaseKind, CaseStatus
from compliance.services import case_open
from custody.errors import NodeInsufficientFunds, NodeInvalidAddress
from custody.hotwallet import lifecycle
from custody.hotwallet.builder import (
    BuiltTx,
    hot_builder_lock,
    hot_tx_build,
    orphans_unlock,
    outpoints_unlock,
    unsent_hot_spend_exists,
)
from custody.hotwallet.fees import fee_rate_sat_vb
from custody.hotwallet.kinds import SpendKind
from custody.models import BatchStatus, Wallet, Withdrawal, WithdrawalBatch, WithdrawalStatus
from custody.node import NodeClient, btc, hot_wallet
from custody.services.freeze import batch_hold_reason
from custody.services.withdrawal_observers import withdrawals_changed

logger = logging.getLogger("alatau.custody.batches")


def withdrawal_batch_create(*, client: NodeClient | None = None) -> WithdrawalBatch | None:
    """Take approved withdrawals (bounded), sign one tx, commit it. No broadcast.

    Returns the new batch, or None when there is nothing to do, another builder is at
    work, a hot-wallet spend is still unsent, or the hot wallet cannot pay (then the
    withdrawals stay approved and an alert case is opened). The node is asked with no
    row locked; the commit re-checks that every withdrawal is still approved.
    """
    hot = client or hot_wallet()
    limit = max(1, int(settings.WITHDRAWAL_BATCH_MAX))
    with hot_builder_lock() as wallet:
        if wallet is None or unsent_hot_spend_exists():
            return None  # another builder, or broadcast that spend first
        approved = Withdrawal.objects.filter(
            status=WithdrawalStatus.APPROVED, account__status=AccountStatus.ACTIVE
        ).order_by("pk")
        withdrawals = _one_per_address(list(approved[:limit]))
        if not withdrawals:
            return None
        orphans_unlock(hot)
        fee_rate = fee_rate_sat_vb(hot)
        # Not replaceable: a fee bump by RBF would change the txid, the stored one would
        # look conflicted and its holds would be released although the replacement pays
        # them. There is no fee bumping: the fee rate is chosen within the floor and cap.
        outputs = [{w.address: btc(w.amount_sats)} for w in withdrawals]
        try:
            built = hot_tx_build(hot, outputs, fee_rate=fee_rate, replaceable=False,
                                 lock_unspents=True, what="batch")  # fmt: skip
        except NodeInsufficientFunds as exc:
            _alert_insufficient(wallet, withdrawals, str(exc))
            return None
        except NodeInvalidAddress:
            _fail_invalid_addresses(hot, withdrawals)  # so one bad address cannot block all
            return None
        lifecycle.crash_point("after_sign")
        batch = _commit(withdrawals, built, fee_rate)
        if batch is None:  # a withdrawal changed meanwhile: the tx was never stored or sent
            outpoints_unlock(hot, built.inputs)
            return None
    lifecycle.crash_point("after_commit")
    return batch


def _commit(withdrawals: list[Withdrawal], built: BuiltTx, fee_rate: int) -> WithdrawalBatch | None:
    """Store the signed batch and mark its withdrawals batched, if all are still approved."""
    vout_of = {w.pk: vout for w, vout in zip(withdrawals, built.vouts, strict=True)}
    with transaction.atomic():
        locked = list(Withdrawal.objects.select_for_update().filter(pk__in=vout_of).order_by("pk"))
        if len(locked) != len(vout_of) or any(
            w.status != WithdrawalStatus.APPROVED for w in locked
        ):
            return None
        batch = WithdrawalBatch.objects.create(
            txid=built.txid, raw_tx=built.raw_tx, fee_sats=built.fee_sats,
            fee_rate_sat_vb=fee_rate, vsize=built.vsize, inputs=built.inputs,
        )  # fmt: skip
        now = timezone.now()
        for withdrawal in locked:
            withdrawal.updated_at = now  # bulk_update does not apply auto_now
            withdrawal.status = WithdrawalStatus.BATCHED
            withdrawal.batch = batch
            withdrawal.vout = vout_of[withdrawal.pk]
        Withdrawal.objects.bulk_update(locked, ["status", "batch", "vout", "updated_at"])
        withdrawals_changed(w.pk for w in locked)
        audit_record(
            actor=None, action="withdrawal_batch.create", obj=batch,
            data={"txid": batch.txid, "withdrawals": [w.pk for w in locked],
                  "fee_sats": batch.fee_sats, "vsize": batch.vsize},
        )  # fmt: skip
    return batch


def _fail_invalid_addresses(client: NodeClient, withdrawals: list[Withdrawal]) -> None:
    """Fail (and release) the withdrawals whose address the node refuses."""
    refused = [w.pk for w in withdrawals
               if not client.call("validateaddress", w.address).get("isvalid")]  # fmt: skip
    for withdrawal_id in refused:
        with transaction.atomic():
            withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
            if withdrawal.status != WithdrawalStatus.APPROVED:
                continue
            if withdrawal.hold_id is not None:
                hold_void(hold_id=withdrawal.hold_id, reason="address refused by the node")
            withdrawal.status = WithdrawalStatus.FAILED
            withdrawal.decision_reason = "The node refused the destination address."
            withdrawal.save(update_fields=["status", "decision_reason", "updated_at"])
            withdrawals_changed([withdrawal.pk])
            audit_record(actor=None, action="withdrawal.failed", obj=withdrawal,
                         data={"reason": "invalid address", "address": withdrawal.address})  # fmt: skip


def _one_per_address(withdrawals: list[Withdrawal]) -> list[Withdrawal]:
    """bitcoind refuses two outputs to one address; later ones wait for the next batch."""
    seen: set[str] = set()
    chosen = []
    for withdrawal in withdrawals:
        if withdrawal.address not in seen:
            seen.add(withdrawal.address)
            chosen.append(withdrawal)
    return chosen


def _alert_insufficient(wallet: Wallet, withdrawals: list[Withdrawal], detail: str) -> None:
    total = sum(w.amount_sats for w in withdrawals)
    logger.error(
        "hot wallet cannot pay %d withdrawals (%d sats): %s", len(withdrawals), total, detail
    )
    with transaction.atomic():
        already = Case.objects.filter(
            kind=CaseKind.OTHER, subject_type=wallet._meta.label_lower, subject_id=str(wallet.pk),
            status=CaseStatus.OPEN, summary__startswith="Hot wallet cannot pay",
        ).exists()  # fmt: skip
        if not already:
            case_open(
                kind=CaseKind.OTHER, subject=wallet,
                summary=f"Hot wallet cannot pay {len(withdrawals)} approved withdrawals",
                findings=[{"rule": "hot_wallet_insufficient", "detail": detail,
                           "amount_sats": total}],
                amount_minor=total, currency="BTC",
            )  # fmt: skip


def _on_broadcast(batch: WithdrawalBatch) -> Sequence[str]:
    batch.withdrawals.filter(status=WithdrawalStatus.BATCHED).update(
        status=WithdrawalStatus.BROADCAST, updated_at=timezone.now()
    )
    withdrawals_changed(batch.withdrawals.values_list("pk", flat=True))
    return []


def _on_confirm(batch: WithdrawalBatch) -> Sequence[str]:
    """Post every withdrawal's hold (amount to custody, fee to fees); book the miner fee."""
    hot_account = system_account(AccountKind.CUSTODY_HOT, "BTC")
    fees_account = system_account(AccountKind.FEES, "BTC")
    # Every account the holds post to, in one ordered lock, before the audit chain head.
    accounts_lock([hot_account.pk, fees_account.pk,
                   *batch.withdrawals.values_list("account_id", flat=True)])  # fmt: skip
    now = timezone.now()
    for withdrawal in batch.withdrawals.select_for_update().order_by("pk"):
        legs = [Leg(hot_account.pk, withdrawal.amount_sats, "withdrawal",
                    f"withdrawal W{withdrawal.pk} {batch.txid}:{withdrawal.vout}")]  # fmt: skip
        if withdrawal.fee_sats:
            legs.append(Leg(fees_account.pk, withdrawal.fee_sats, "fee", "withdrawal fee"))
        if withdrawal.hold_id is not None:
            hold_post(hold_id=withdrawal.hold_id, legs=legs)
        withdrawal.status = WithdrawalStatus.CONFIRMED
        withdrawal.confirmed_at = now
        withdrawal.save(update_fields=["status", "confirmed_at", "updated_at"])
    withdrawals_changed(batch.withdrawals.values_list("pk", flat=True))
    if batch.fee_sats:
        batch.fee_transfer = transfer_create(
            debit_account_id=fees_account.pk, credit_account_id=hot_account.pk,
            amount_minor=batch.fee_sats, code="fee",
            idempotency_key=f"batch-fee:{batch.txid}", memo=f"miner fee {batch.txid}",
            source=batch,
        )  # fmt: skip
    return ["fee_transfer"]


def _on_fail(batch: WithdrawalBatch, reason: str) -> Sequence[str]:
    """The batch will never pay: release every withdrawal's hold."""
    for withdrawal in batch.withdrawals.select_for_update().order_by("pk"):
        if withdrawal.hold_id is not None:
            hold_void(hold_id=withdrawal.hold_id, reason=reason)
        withdrawal.status = WithdrawalStatus.FAILED
        withdrawal.save(update_fields=["status", "updated_at"])
    withdrawals_changed(batch.withdrawals.values_list("pk", flat=True))
    return []


BATCH_SPEND = SpendKind(
    name="withdrawal_batch", model=WithdrawalBatch,
    signed=BatchStatus.SIGNED, broadcast=BatchStatus.BROADCAST,
    confirmed=BatchStatus.CONFIRMED, failed=BatchStatus.FAILED,
    confirmations_needed=lambda: int(settings.WITHDRAWAL_CONFIRMATIONS),
    on_broadcast=_on_broadcast, on_confirm=_on_confirm, on_fail=_on_fail,
    broadcast_max=20, confirm_max=50, hold_reason=batch_hold_reason,
)  # fmt: skip


def withdrawal_batch_broadcast(*, client: NodeClient | None = None) -> int:
    """(Re-)send every committed, unconfirmed batch's exact bytes; return how many went out."""
    return lifecycle.spends_broadcast(BATCH_SPEND, client=client)


def withdrawal_batch_confirm(*, client: NodeClient | None = None) -> int:
    """Post the holds of batches with enough confirmations; book their miner fee."""
    return lifecycle.spends_confirm(BATCH_SPEND, client=client)


def withdrawal_batch_fail(*, batch_id: int, reason: str) -> None:
    """Fail a batch that can never confirm (a conflicting tx won): release the holds."""
    lifecycle.spend_fail(BATCH_SPEND, spend_id=batch_id, reason=reason)
