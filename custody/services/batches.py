"""Paying approved withdrawals: build+sign+commit a batch, broadcast it, confirm it.

Why a crash can never pay twice:

* One builder at a time: the builder locks the hot ``Wallet`` row. It refuses to build
  while a committed batch is still unbroadcast (status ``signed``): that batch's inputs are
  not yet spent in the node's eyes, so a second transaction could pick the same coins.
* The signed transaction and its txid are committed (the batch row, withdrawals ->
  batched) before anything is broadcast. Broadcasting re-sends exactly those bytes;
  "already in the mempool or chain" counts as success. So a retry, or a crash after
  ``sendrawtransaction``, can only re-send the same transaction, which the network
  accepts once.
* Crash after signing but before the commit: the transaction was never stored and
  never broadcast, so it does not exist outside that dead process. Its inputs were
  locked with ``lockUnspents`` (in the node's memory); the next run unlocks every
  outpoint that no committed batch owns and simply builds a new transaction.
* The holds are posted only when the transaction has WITHDRAWAL_CONFIRMATIONS.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AccountKind
from accounts.services import (
    accounts_lock,
    hold_post,
    hold_void,
    system_account,
    transfer_create,
)
from accounts.services.holds import Leg
from audit.chain import audit_record
from compliance.models import Case, CaseStatus
from compliance.services import case_open
from custody.errors import (
    NodeError,
    NodeInsufficientFunds,
    NodeInvalidAddress,
    TxAlreadyInChain,
    TxRejected,
)
from custody.models import (
    BatchStatus,
    Wallet,
    WalletKind,
    Withdrawal,
    WithdrawalBatch,
    WithdrawalStatus,
)
from custody.node import NodeClient, btc, hot_wallet, sats
from custody.services.broadcast import rejected_tx_verdict

logger = logging.getLogger("alatau.custody.batches")

CRASH_POINTS = ("after_sign", "after_commit", "after_broadcast")
BROADCAST_BATCHES_MAX = 20
CONFIRM_BATCHES_MAX = 50


def _crash_point(name: str) -> None:
    """Test hook: tests monkeypatch this to raise at a named point and simulate a crash."""


@dataclass(frozen=True)
class BuiltTx:
    raw_tx: str
    txid: str
    fee_sats: int
    vsize: int
    inputs: list[list[Any]]
    vouts: list[int]  # output index of each withdrawal, in the order given


def fee_rate_sat_vb(client: NodeClient) -> int:
    """Return the miner fee rate: the node's estimate within the configured floor and cap."""
    floor = int(settings.FEE_RATE_FLOOR_SAT_VB)
    cap = int(settings.FEE_RATE_CAP_SAT_VB)
    estimate = client.estimate_fee_rate_sat_vb(conf_target=6)
    return min(max(estimate or floor, floor), cap)


def hot_wallet_row_locked() -> Wallet:
    """Lock the hot wallet row: every builder of a hot-wallet spend takes it first."""
    name = str(settings.CUSTODY_HOT_WALLET)
    wallet, _ = Wallet.objects.get_or_create(name=name, defaults={"kind": WalletKind.HOT})
    return Wallet.objects.select_for_update().get(pk=wallet.pk)


def _unsent_hot_spend_exists() -> bool:
    """Is a signed hot-wallet transaction committed but not yet accepted by the node?

    Its coins still look unspent to the node, so building now could spend them twice.
    That holds for withdrawal batches and for treasury's sweeps (hot -> cold), whose
    builder checks the same under the same hot-wallet row lock.
    """
    if WithdrawalBatch.objects.filter(status=BatchStatus.SIGNED).exists():
        return True
    if not apps.is_installed("treasury"):
        return False
    sweep = apps.get_model("treasury", "Sweep")
    return bool(sweep.objects.filter(status="signed").exists())


def _unlock_orphans(client: NodeClient) -> None:
    """Unlock outpoints locked by a builder that died before committing its batch."""
    locked = client.call("listlockunspent")
    if not locked:
        return
    owned = {
        (str(txid), int(vout))
        for inputs in WithdrawalBatch.objects.filter(status=BatchStatus.SIGNED)
        .values_list("inputs", flat=True)
        for txid, vout in inputs
    }  # fmt: skip
    orphans = [o for o in locked if (str(o["txid"]), int(o["vout"])) not in owned]
    if orphans:
        logger.warning("unlocking %d outpoints left by an unfinished batch", len(orphans))
        outpoints = [{"txid": o["txid"], "vout": o["vout"]} for o in orphans]
        try:
            client.call("lockunspent", True, outpoints)
        except NodeError:
            # One of them is already spent (the node refuses the whole call): go one by one.
            for outpoint in outpoints:
                with contextlib.suppress(NodeError):
                    client.call("lockunspent", True, [outpoint])


def _build(client: NodeClient, withdrawals: list[Withdrawal], fee_rate: int) -> BuiltTx:
    """Fund, sign and finalise one transaction paying every withdrawal (bank pays the fee)."""
    outputs = [{w.address: btc(w.amount_sats)} for w in withdrawals]
    # Not replaceable: a fee bump by RBF would change the txid, the stored one would look
    # conflicted and its holds would be released although the replacement pays them.
    # A stuck batch is sped up by CPFP on its change output, which keeps the txid.
    options = {"fee_rate": fee_rate, "lockUnspents": True, "replaceable": False}
    funded = client.call("walletcreatefundedpsbt", [], outputs, 0, options)
    processed = client.call("walletprocesspsbt", funded["psbt"], True, "ALL", True)
    final = client.call("finalizepsbt", processed["psbt"], True)
    if not final.get("complete"):
        raise TxRejected("The hot wallet could not sign the batch")
    decoded = client.call("decoderawtransaction", final["hex"])
    change = int(funded.get("changepos", -1))
    vouts = [i for i in range(len(decoded["vout"])) if i != change]
    return BuiltTx(
        raw_tx=str(final["hex"]), txid=str(decoded["txid"]), fee_sats=sats(funded["fee"]),
        vsize=int(decoded["vsize"]), vouts=vouts,
        inputs=[[str(i["txid"]), int(i["vout"])] for i in decoded["vin"]],
    )  # fmt: skip


def withdrawal_batch_create(*, client: NodeClient | None = None) -> WithdrawalBatch | None:
    """Take approved withdrawals (SKIP LOCKED, bounded), sign one tx, commit it. No broadcast.

    Returns the new batch, or None when there is nothing to do, a batch is still
    unbroadcast, or the hot wallet cannot pay (then the withdrawals stay approved and an
    alert case is opened).
    """
    hot = client or hot_wallet()
    limit = max(1, int(settings.WITHDRAWAL_BATCH_MAX))
    with transaction.atomic():
        wallet = hot_wallet_row_locked()
        if _unsent_hot_spend_exists():
            return None  # broadcast that one first (see the module docstring)
        withdrawals = list(
            Withdrawal.objects.select_for_update(skip_locked=True)
            .filter(status=WithdrawalStatus.APPROVED)
            .order_by("pk")[:limit]
        )
        withdrawals = _one_per_address(withdrawals)
        if not withdrawals:
            return None
        _unlock_orphans(hot)
        fee_rate = fee_rate_sat_vb(hot)
        try:
            built = _build(hot, withdrawals, fee_rate)
        except NodeInsufficientFunds as exc:
            _alert_insufficient(wallet, withdrawals, str(exc))
            return None
        except NodeInvalidAddress:
            _fail_invalid_addresses(hot, withdrawals)  # so one bad address cannot block all
            return None
        _crash_point("after_sign")
        batch = WithdrawalBatch.objects.create(
            txid=built.txid, raw_tx=built.raw_tx, fee_sats=built.fee_sats,
            fee_rate_sat_vb=fee_rate, vsize=built.vsize, inputs=built.inputs,
        )  # fmt: skip
        now = timezone.now()
        for withdrawal, vout in zip(withdrawals, built.vouts, strict=True):
            withdrawal.updated_at = now  # bulk_update does not apply auto_now
            withdrawal.status = WithdrawalStatus.BATCHED
            withdrawal.batch = batch
            withdrawal.vout = vout
        Withdrawal.objects.bulk_update(withdrawals, ["status", "batch", "vout", "updated_at"])
        audit_record(
            actor=None, action="withdrawal_batch.create", obj=batch,
            data={"txid": batch.txid, "withdrawals": [w.pk for w in withdrawals],
                  "fee_sats": batch.fee_sats, "vsize": batch.vsize},
        )  # fmt: skip
    _crash_point("after_commit")
    return batch


def _fail_invalid_addresses(client: NodeClient, withdrawals: list[Withdrawal]) -> None:
    """Fail (and release) the withdrawals whose address the node refuses."""
    for withdrawal in withdrawals:
        if client.call("validateaddress", withdrawal.address).get("isvalid"):
            continue
        if withdrawal.hold_id is not None:
            hold_void(hold_id=withdrawal.hold_id, reason="address refused by the node")
        withdrawal.status = WithdrawalStatus.FAILED
        withdrawal.decision_reason = "The node refused the destination address."
        withdrawal.save(update_fields=["status", "decision_reason", "updated_at"])
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
    already = Case.objects.filter(
        kind="other", subject_type=wallet._meta.label_lower, subject_id=str(wallet.pk),
        status=CaseStatus.OPEN, summary__startswith="Hot wallet cannot pay",
    ).exists()  # fmt: skip
    if not already:
        case_open(
            kind="other", subject=wallet,
            summary=f"Hot wallet cannot pay {len(withdrawals)} approved withdrawals",
            findings=[{"rule": "hot_wallet_insufficient", "detail": detail,
                       "amount_sats": total}],
            amount_minor=total, currency="BTC",
        )  # fmt: skip


def withdrawal_batch_broadcast(*, client: NodeClient | None = None) -> int:
    """(Re-)send every committed, unconfirmed batch's exact bytes; return how many went out."""
    hot = client or hot_wallet()
    sent = 0
    pending = WithdrawalBatch.objects.filter(status=BatchStatus.SIGNED).order_by("pk")
    for batch_id in list(pending.values_list("pk", flat=True)[:BROADCAST_BATCHES_MAX]):
        if _broadcast_one(hot, batch_id):
            sent += 1
    return sent


def _broadcast_one(hot: NodeClient, batch_id: int) -> bool:
    batch = WithdrawalBatch.objects.get(pk=batch_id)
    try:
        hot.call("sendrawtransaction", batch.raw_tx)
    except TxAlreadyInChain:
        pass  # an earlier attempt got through: that is success
    except TxRejected as exc:
        verdict = rejected_tx_verdict(hot, txid=batch.txid, inputs=batch.inputs)
        if verdict == "lost":
            withdrawal_batch_fail(batch_id=batch.pk, reason=f"inputs spent elsewhere: {exc}")
            return False
        if verdict == "retry":
            _record_failure(batch, str(exc))
            return False
    _crash_point("after_broadcast")
    with transaction.atomic():
        batch = WithdrawalBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status != BatchStatus.SIGNED:
            return False
        batch.status = BatchStatus.BROADCAST
        batch.broadcast_at = timezone.now()
        batch.broadcast_attempts += 1
        batch.save(update_fields=["status", "broadcast_at", "broadcast_attempts"])
        batch.withdrawals.filter(status=WithdrawalStatus.BATCHED).update(
            status=WithdrawalStatus.BROADCAST, updated_at=timezone.now()
        )
        audit_record(actor=None, action="withdrawal_batch.broadcast", obj=batch,
                     data={"txid": batch.txid})  # fmt: skip
    return True


def _record_failure(batch: WithdrawalBatch, error: str) -> None:
    """Keep a rejected batch for retry; it is failed only when it can never confirm."""
    WithdrawalBatch.objects.filter(pk=batch.pk).update(
        last_error=error[:300], broadcast_attempts=batch.broadcast_attempts + 1
    )
    logger.error("batch %s rejected by the node: %s", batch.txid, error)


def withdrawal_batch_confirm(*, client: NodeClient | None = None) -> int:
    """Post the holds of batches with enough confirmations; book their miner fee."""
    hot = client or hot_wallet()
    needed = int(settings.WITHDRAWAL_CONFIRMATIONS)
    done = 0
    batches = WithdrawalBatch.objects.filter(status=BatchStatus.BROADCAST).order_by("pk")
    for batch in list(batches[:CONFIRM_BATCHES_MAX]):
        reply = hot.call("gettransaction", batch.txid)
        confirmations = int(reply.get("confirmations", 0))
        if confirmations == 0 and reply.get("in_mempool") is False:
            _rebroadcast(hot, batch)  # dropped from the mempool (e.g. a node restart)
        if confirmations < 0:
            withdrawal_batch_fail(batch_id=batch.pk, reason="transaction conflicted")
        elif confirmations >= needed:
            _confirm_one(batch.pk, confirmations)
            done += 1
        elif confirmations != batch.confirmations:
            WithdrawalBatch.objects.filter(pk=batch.pk).update(confirmations=confirmations)
    return done


def _rebroadcast(hot: NodeClient, batch: WithdrawalBatch) -> None:
    """Send the same bytes again; refusals are logged, the next run tries again."""
    try:
        hot.call("sendrawtransaction", batch.raw_tx)
    except (TxAlreadyInChain, TxRejected) as exc:
        logger.warning("re-broadcast of %s: %s", batch.txid, exc)


def _confirm_one(batch_id: int, confirmations: int) -> None:
    hot_account = system_account(AccountKind.CUSTODY_HOT, "BTC")
    fees_account = system_account(AccountKind.FEES, "BTC")
    with transaction.atomic():
        batch = WithdrawalBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status != BatchStatus.BROADCAST:
            return
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
        if batch.fee_sats:
            batch.fee_transfer = transfer_create(
                debit_account_id=fees_account.pk, credit_account_id=hot_account.pk,
                amount_minor=batch.fee_sats, code="fee",
                idempotency_key=f"batch-fee:{batch.txid}", memo=f"miner fee {batch.txid}",
                source=batch,
            )  # fmt: skip
        batch.status = BatchStatus.CONFIRMED
        batch.confirmations = confirmations
        batch.confirmed_at = now
        batch.save(update_fields=["status", "confirmations", "confirmed_at", "fee_transfer"])
        audit_record(actor=None, action="withdrawal_batch.confirm", obj=batch,
                     data={"txid": batch.txid, "fee_sats": batch.fee_sats})  # fmt: skip


def withdrawal_batch_fail(*, batch_id: int, reason: str) -> None:
    """Fail a batch that can never confirm (a conflicting tx won): release the holds.

    Only called when the node reports the transaction conflicted, i.e. it is certain that
    these outputs will never be paid by it.
    """
    with transaction.atomic():
        batch = WithdrawalBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status in (BatchStatus.CONFIRMED, BatchStatus.FAILED):
            return
        for withdrawal in batch.withdrawals.select_for_update().order_by("pk"):
            if withdrawal.hold_id is not None:
                hold_void(hold_id=withdrawal.hold_id, reason=reason)
            withdrawal.status = WithdrawalStatus.FAILED
            withdrawal.save(update_fields=["status", "updated_at"])
        batch.status = BatchStatus.FAILED
        batch.last_error = reason[:300]
        batch.save(update_fields=["status", "last_error"])
        audit_record(actor=None, action="withdrawal_batch.fail", obj=batch,
                     data={"txid": batch.txid, "reason": reason})  # fmt: skip
