"""Speeding up a stuck withdrawal batch with child-pays-for-parent (CPFP).

Batches are built non-replaceable (an RBF replacement would change the txid the
withdrawals are tracked by), so a batch is bumped by a child: a hot-to-hot transaction
spending the batch's change with a fee that lifts the package (batch + child) to the
target rate. Miners take both together. The batch itself never changes: no payment is
sent twice, and customers keep seeing their withdrawal as broadcast until it confirms.

Who: staff with ``custody.bump_fee`` or the automatic rule (a beat task, the system).
A child fee above ``FEE_BUMP_FOUR_EYES_SATS`` needs a second staff member (compliance's
four-eyes engine); the rule never goes above it and opens a case instead. Building asks
the node with no row locked (the hot wallet's builder lock), then commits the signed
child; the hot-wallet lifecycle sends and confirms it, and its fee is booked on the
ledger (fees -> custody_hot) when it confirms.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from accounts.models import AccountKind
from accounts.services import system_account, transfer_create
from audit.chain import audit_record
from compliance.models import ApprovalRequest, CaseKind
from compliance.services import case_open
from compliance.services.approvals import approval_action_register, approval_propose
from core.errors import InvalidState, PermissionDenied, ValidationFailed
from custody.hotwallet import lifecycle
from custody.hotwallet.builder import hot_builder_lock
from custody.hotwallet.fees import fee_rate_sat_vb
from custody.hotwallet.kinds import SpendKind, hot_spend_register
from custody.models import BatchStatus, FeeBump, FeeBumpStatus, WithdrawalBatch
from custody.node import NodeClient, btc, hot_wallet, sats

logger = logging.getLogger("alatau.custody.fee_bumps")

PERMISSION = "custody.bump_fee"
ACTION = "batch_fee_bump"
CHILD_VSIZE_VB = 110  # one P2WPKH input, one P2WPKH output: the estimate before signing
DUST_SATS = 546


def _check_actor(actor: Actor) -> None:
    if actor is not None and not (
        actor.is_active and actor.is_staff and actor.has_perm(PERMISSION)
    ):
        raise PermissionDenied(f"You lack the permission {PERMISSION}")


def child_fee_sats(batch: WithdrawalBatch, fee_rate_sat_vb: int, child_vsize: int) -> int:
    """The child's fee that brings batch + child to ``fee_rate_sat_vb`` (never negative)."""
    return max(0, fee_rate_sat_vb * (batch.vsize + child_vsize) - batch.fee_sats)


def fee_bump_request(
    *, batch_id: int, fee_rate_sat_vb: int, actor: Actor, reason: str,
    client_address: str | None = None,
) -> FeeBump:  # fmt: skip
    """Ask to bump a broadcast batch to a package rate; above the bound, four eyes."""
    _check_actor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    cap = int(settings.FEE_RATE_CAP_SAT_VB)
    if not isinstance(fee_rate_sat_vb, int) or not batch_rate_ok(fee_rate_sat_vb):
        raise ValidationFailed("Fee rate out of bounds",
                               fields={"fee_rate": [f"Between {batch_floor()} and {cap} sat/vB."]})  # fmt: skip
    with transaction.atomic():
        batch = WithdrawalBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status != BatchStatus.BROADCAST:
            raise InvalidState("Only a broadcast, unconfirmed batch can be sped up")
        if fee_rate_sat_vb * batch.vsize <= batch.fee_sats:
            raise ValidationFailed("The batch already pays that rate",
                                   fields={"fee_rate": ["Choose a higher rate."]})  # fmt: skip
        estimate = child_fee_sats(batch, fee_rate_sat_vb, CHILD_VSIZE_VB)
        four_eyes = estimate > int(settings.FEE_BUMP_FOUR_EYES_SATS)
        if four_eyes and actor is None:
            raise PermissionDenied("The automatic rule does not bump above the four-eyes bound")
        bump = FeeBump.objects.create(
            batch=batch, fee_rate_sat_vb=fee_rate_sat_vb, requested_by=actor, reason=reason[:500],
            status=FeeBumpStatus.REQUESTED if four_eyes else FeeBumpStatus.APPROVED,
        )  # fmt: skip
        audit_record(actor=actor, action="fee_bump.request", obj=bump,
                     data={"batch": batch.pk, "fee_rate_sat_vb": fee_rate_sat_vb,
                           "child_fee_estimate_sats": estimate, "four_eyes": four_eyes},
                     client_address=client_address)  # fmt: skip
        if four_eyes:
            approval_propose(actor=actor, action=ACTION, target=bump,
                             params={"batch": batch.pk, "fee_rate_sat_vb": fee_rate_sat_vb,
                                     "child_fee_estimate_sats": estimate},
                             reason=reason, client_address=client_address)  # fmt: skip
    return bump


def batch_floor() -> int:
    return int(settings.FEE_RATE_FLOOR_SAT_VB)


def batch_rate_ok(rate: int) -> bool:
    return batch_floor() <= rate <= int(settings.FEE_RATE_CAP_SAT_VB)


def _approve_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    """The second person's approval: the bump may now be built (no node call here)."""
    bump = FeeBump.objects.select_for_update().get(pk=int(request.target_id))
    if bump.status != FeeBumpStatus.REQUESTED:
        raise InvalidState(f"The fee bump is {bump.status}")
    bump.status, bump.approved_by = FeeBumpStatus.APPROVED, actor
    bump.save(update_fields=["status", "approved_by"])
    return {"fee_bump": bump.pk, "status": bump.status}


def fee_bumps_build(*, client: NodeClient | None = None) -> int:
    """Build, sign and commit every approved bump's child (not sent); return how many."""
    hot = client or hot_wallet()
    built = 0
    with hot_builder_lock() as wallet:
        if wallet is None:
            return 0
        for bump in list(FeeBump.objects.filter(status=FeeBumpStatus.APPROVED)[:10]):
            built += int(_build_one(hot, bump))
    return built


def _change_output(hot: NodeClient, batch: WithdrawalBatch) -> tuple[int, int] | None:
    decoded = hot.call("decoderawtransaction", batch.raw_tx)
    for out in decoded["vout"]:
        address = out.get("scriptPubKey", {}).get("address")
        if address and hot.call("getaddressinfo", address).get("ismine"):
            return int(out["n"]), sats(out["value"])
    return None


def _build_one(hot: NodeClient, bump: FeeBump) -> bool:
    batch = bump.batch
    change = _change_output(hot, batch)
    if change is None:
        _give_up(bump, "the batch has no change output to spend: it cannot be sped up by CPFP")
        return False
    vout, value = change
    fee = child_fee_sats(batch, bump.fee_rate_sat_vb, CHILD_VSIZE_VB)
    if value - fee < DUST_SATS:
        _give_up(bump, "the change is too small to pay the child's fee")
        return False
    to = str(hot.call("getrawchangeaddress", "bech32"))
    raw = hot.call(
        "createrawtransaction", [{"txid": batch.txid, "vout": vout}], [{to: btc(value - fee)}]
    )
    signed = hot.call("signrawtransactionwithwallet", raw)
    if not signed.get("complete"):
        _give_up(bump, "the hot wallet could not sign the child")
        return False
    txid = str(hot.call("decoderawtransaction", signed["hex"])["txid"])
    with transaction.atomic():
        locked = FeeBump.objects.select_for_update().get(pk=bump.pk)
        if locked.status != FeeBumpStatus.APPROVED:
            return False
        locked.status, locked.txid, locked.raw_tx = FeeBumpStatus.SIGNED, txid, str(signed["hex"])
        locked.fee_sats, locked.inputs = fee, [[batch.txid, vout]]
        locked.save(update_fields=["status", "txid", "raw_tx", "fee_sats", "inputs"])
        audit_record(actor=None, action="fee_bump.sign", obj=locked,
                     data={"txid": txid, "fee_sats": fee, "batch": batch.pk})  # fmt: skip
    return True


def _give_up(bump: FeeBump, why: str) -> None:
    with transaction.atomic():
        FeeBump.objects.filter(pk=bump.pk).update(status=FeeBumpStatus.FAILED, last_error=why[:300])
        audit_record(actor=None, action="fee_bump.fail", obj=bump, data={"reason": why})
        case_open(kind=CaseKind.OTHER, subject=bump.batch,
                  summary=f"Batch {bump.batch_id} could not be sped up: {why}"[:200])  # fmt: skip


def fee_bumps_auto(*, client: NodeClient | None = None) -> int:
    """The automatic rule: bump batches broadcast long ago that pay below today's rate."""
    hot = client or hot_wallet()
    cutoff = timezone.now() - dt.timedelta(seconds=int(settings.FEE_BUMP_AFTER_S))
    stuck = WithdrawalBatch.objects.filter(status=BatchStatus.BROADCAST, broadcast_at__lte=cutoff)
    stuck = stuck.exclude(fee_bumps__status__in=[
        FeeBumpStatus.REQUESTED, FeeBumpStatus.APPROVED, FeeBumpStatus.SIGNED,
        FeeBumpStatus.BROADCAST])  # fmt: skip
    rate = fee_rate_sat_vb(hot)
    made = 0
    for batch in list(stuck.order_by("pk")[:10]):
        if rate * batch.vsize <= batch.fee_sats:
            continue
        try:
            fee_bump_request(batch_id=batch.pk, fee_rate_sat_vb=rate, actor=None,
                             reason=f"automatic: stuck since {batch.broadcast_at:%Y-%m-%d %H:%M}")  # fmt: skip
        except PermissionDenied:
            case_open(kind=CaseKind.OTHER, subject=batch,
                      summary=f"Batch {batch.pk} is stuck and needs a bump above the four-eyes bound")  # fmt: skip
            continue
        made += 1
    return made


def _on_confirm(bump: FeeBump) -> Sequence[str]:
    """Book the child's miner fee: the bank's fee income pays it."""
    if bump.fee_sats:
        bump.fee_transfer = transfer_create(
            debit_account_id=system_account(AccountKind.FEES, "BTC").pk,
            credit_account_id=system_account(AccountKind.CUSTODY_HOT, "BTC").pk,
            amount_minor=bump.fee_sats, code="fee", idempotency_key=f"fee-bump:{bump.txid}",
            memo=f"CPFP miner fee {bump.txid} for batch {bump.batch_id}", source=bump,
        )  # fmt: skip
        return ["fee_transfer"]
    return []


FEE_BUMP_SPEND = SpendKind(
    name="fee_bump", model=FeeBump,
    signed=FeeBumpStatus.SIGNED, broadcast=FeeBumpStatus.BROADCAST,
    confirmed=FeeBumpStatus.CONFIRMED, failed=FeeBumpStatus.FAILED,
    confirmations_needed=lambda: int(settings.WITHDRAWAL_CONFIRMATIONS),
    on_broadcast=lambda bump: [], on_confirm=_on_confirm, on_fail=lambda bump, why: [],
    broadcast_max=10, confirm_max=20,
)  # fmt: skip


def fee_bumps_broadcast(*, client: NodeClient | None = None) -> int:
    return lifecycle.spends_broadcast(FEE_BUMP_SPEND, client=client)


def fee_bumps_confirm(*, client: NodeClient | None = None) -> int:
    return lifecycle.spends_confirm(FEE_BUMP_SPEND, client=client)


def fee_bumps_register() -> None:
    """Register the child spends and the four-eyes action (from ``CustodyConfig.ready``)."""
    hot_spend_register(FEE_BUMP_SPEND)
    approval_action_register(ACTION, permission=PERMISSION, executor=_approve_execute,
                             description=gettext_noop("Speed up a stuck withdrawal batch above the bound"))  # fmt: skip
