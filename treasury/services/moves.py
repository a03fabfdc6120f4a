"""Cold-to-hot moves: request, two approvals, PSBT out, signed PSBT in, check, broadcast.

Once the signed transaction is committed, the move follows the lifecycle every bank
spend follows (``custody.hotwallet.lifecycle``): signed -> broadcast -> confirmed/failed.

Four eyes run on compliance's approval engine (action ``cold_to_hot``): the first
approver proposes, a second, different staff member approves and the executor marks
the move approved. The move keeps both approvers itself too, and database CHECKs make
the requester and the two approvers three different people.

Ledger (custody accounts are negative mirrors of the coins): at broadcast the cold side
moves to ``in_transit`` (debit in_transit, credit custody_cold; the miner fee debit fees,
credit custody_cold); at confirmation the hot side (debit custody_hot, credit in_transit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from accounts.models import AccountKind
from audit.chain import audit_record
from compliance.models import ApprovalRequest, ApprovalStatus
from compliance.permissions import require_perm
from compliance.services import approval_approve, approval_propose, approval_reject
from compliance.services.approvals import approval_action_register
from core.errors import ValidationFailed
from core.money import check_minor
from custody.errors import NodeError
from custody.hotwallet.builder import outpoints_unlock
from custody.hotwallet.fees import fee_rate_sat_vb
from custody.hotwallet.kinds import SpendKind
from custody.hotwallet.lifecycle import spend_broadcast, spends_broadcast, spends_confirm
from custody.node import btc, node_client, sats
from custody.services import internal_address_new
from treasury.errors import ColdFourEyes, ColdMoveState, PsbtRefused
from treasury.models import ColdMove, ColdMoveStatus
from treasury.services.common import (
    COLD_MOVE_PERMISSION,
    cold_wallet,
    ledger,
    transit_legs_book,
    transit_legs_reverse,
    transit_settle_book,
)

ACTION = "cold_to_hot"
OPEN_STATUSES = (
    ColdMoveStatus.REQUESTED, ColdMoveStatus.APPROVING, ColdMoveStatus.APPROVED,
    ColdMoveStatus.PSBT_READY, ColdMoveStatus.SIGNED, ColdMoveStatus.BROADCAST,
)  # fmt: skip
CONFIRM_MAX = 50
PSBT_CHARS_MAX = 200_000


def _locked(move_id: int, *statuses: str) -> ColdMove:
    move = ColdMove.objects.select_for_update().filter(pk=move_id).first()
    if move is None:
        raise ColdMoveState("Cold move not found")
    if statuses and move.status not in statuses:
        raise ColdMoveState(f"The cold move is {move.status}")
    return move


def cold_move_request(
    *, amount_sats: int, reason: str, actor: Actor, client_address: str | None = None
) -> ColdMove:
    """Ask for ``amount_sats`` to move from cold to hot (actor None: the rebalancer)."""
    if actor is not None:
        require_perm(actor, COLD_MOVE_PERMISSION)
    reason = (reason or "").strip()[:500]
    if not reason:
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    check_minor(amount_sats, "BTC", field="amount_sats")
    with transaction.atomic():
        move = ColdMove.objects.create(amount_sats=amount_sats, reason=reason, requested_by=actor)
        audit_record(actor=actor, action="cold_move.request", obj=move,
                     data={"amount_sats": amount_sats, "reason": reason},
                     client_address=client_address)  # fmt: skip
    return move


def cold_move_approve(*, move_id: int, actor: Actor, client_address: str | None = None) -> ColdMove:
    """Give one of the two approvals; the second one (another person) completes it."""
    actor = require_perm(actor, COLD_MOVE_PERMISSION)
    with transaction.atomic():
        move = _locked(move_id, ColdMoveStatus.REQUESTED, ColdMoveStatus.APPROVING)
        if move.requested_by_id == actor.pk:
            raise ColdFourEyes("You requested this move; two other staff members must approve it")
        if move.status == ColdMoveStatus.REQUESTED:
            request = approval_propose(
                actor=actor, action=ACTION, target=move,
                params={"amount_sats": move.amount_sats}, reason=move.reason,
                client_address=client_address,
            )  # fmt: skip
            move.approval = request
            move.approved_by_1 = actor
            move.status = ColdMoveStatus.APPROVING
            move.save(update_fields=["approval", "approved_by_1", "status", "updated_at"])
            audit_record(actor=actor, action="cold_move.approve", obj=move,
                         data={"approval": 1}, client_address=client_address)  # fmt: skip
            return move
        if move.approval is not None and move.approval.status == ApprovalStatus.REJECTED:
            raise ColdMoveState("The approval request was rejected; reject this move")
        if move.approved_by_1_id == actor.pk:
            raise ColdFourEyes("You already approved this move; a second staff member must")
        request_id = move.approval_id
        if request_id is None:
            raise ColdMoveState("The move has no approval request")
        approval_approve(actor=actor, request_id=request_id, client_address=client_address)
        move.refresh_from_db()
    return move


def _execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    """Compliance's executor: the second approval, whichever screen it came from."""
    move = _locked(int(request.target_id), ColdMoveStatus.APPROVING)
    if actor is None or actor.pk in (move.requested_by_id, move.approved_by_1_id):
        raise ColdFourEyes("The requester and both approvers must be three different people")
    move.approved_by_2 = actor
    move.status = ColdMoveStatus.APPROVED
    move.save(update_fields=["approved_by_2", "status", "updated_at"])
    audit_record(actor=actor, action="cold_move.approve", obj=move, data={"approval": 2})
    return {"cold_move": move.pk, "status": move.status}


def register_approval_action() -> None:
    approval_action_register(
        ACTION, permission=COLD_MOVE_PERMISSION, executor=_execute,
        description=gettext_noop("Move bitcoin from the cold wallet to the hot wallet"),
    )  # fmt: skip


def cold_move_reject(
    *, move_id: int, actor: Actor, reason: str, client_address: str | None = None
) -> ColdMove:
    """Reject (or withdraw) a move not yet signed; a built PSBT's coins are released."""
    actor = require_perm(actor, COLD_MOVE_PERMISSION)
    with transaction.atomic():
        move = _locked(move_id, ColdMoveStatus.REQUESTED, ColdMoveStatus.APPROVING,
                       ColdMoveStatus.APPROVED, ColdMoveStatus.PSBT_READY)  # fmt: skip
        built = move.inputs if move.status == ColdMoveStatus.PSBT_READY else []
        if move.approval_id and move.approval and move.approval.status == ApprovalStatus.PENDING:
            approval_reject(actor=actor, request_id=move.approval_id, reason=reason,
                            client_address=client_address)  # fmt: skip
        move.status = ColdMoveStatus.REJECTED
        move.last_error = (reason or "")[:300]
        move.save(update_fields=["status", "last_error", "updated_at"])
        audit_record(actor=actor, action="cold_move.reject", obj=move, data={"reason": reason},
                     client_address=client_address)  # fmt: skip
    outpoints_unlock(cold_wallet(), built)  # after the commit: no node call under a row lock
    return move


def cold_move_psbt_build(*, move_id: int, actor: Actor = None) -> ColdMove:
    """Fund a PSBT in the watch-only wallet paying a fresh hot address; change back to cold.

    The node is asked first, with no row locked; the commit re-checks that the move is
    still approved (another build may have won), else the funded coins are released.
    """
    move = ColdMove.objects.filter(pk=move_id).first()
    if move is None:
        raise ColdMoveState("Cold move not found")
    if move.status != ColdMoveStatus.APPROVED:
        raise ColdMoveState(f"The cold move is {move.status}")
    hot = internal_address_new(label=f"cold move {move.pk}", actor=actor)
    cold = cold_wallet()
    # Not replaceable, like batches: a replacement changes the txid the move is tracked by,
    # and the move would be booked failed although its coins arrived.
    options = {"fee_rate": fee_rate_sat_vb(cold), "lockUnspents": True, "replaceable": False,
               "change_type": "bech32"}  # fmt: skip
    funded = cold.call("walletcreatefundedpsbt", [], [{hot.address: btc(move.amount_sats)}],
                       0, options)  # fmt: skip
    decoded = node_client().call("decodepsbt", funded["psbt"])
    locked = [[v["txid"], v["vout"]] for v in decoded["tx"]["vin"]]
    try:
        with transaction.atomic():
            move = _locked(move_id, ColdMoveStatus.APPROVED)
            _psbt_record(move, funded, decoded, hot.address)
            audit_record(actor=actor, action="cold_move.psbt_build", obj=move,
                         data={"hot_address": hot.address, "fee_sats": move.fee_sats,
                               "inputs": move.inputs,
                               "change_address": move.change_address})  # fmt: skip
    except Exception:
        # Funding locked the coins in the node: release them whatever went wrong,
        # or later builds would find the cold wallet short until a node restart.
        outpoints_unlock(cold, locked)
        raise
    return move


def _psbt_record(
    move: ColdMove, funded: dict[str, Any], decoded: dict[str, Any], hot_address: str
) -> None:
    """Check the funded PSBT's fee and store what the signed one must match."""
    fee = sats(funded["fee"])
    if fee > int(settings.COLD_FEE_MAX_SATS):
        raise PsbtRefused(f"The fee {fee} sats is over the cap {settings.COLD_FEE_MAX_SATS}")
    change = int(funded.get("changepos", -1))
    vouts = decoded["tx"]["vout"]
    move.hot_address = hot_address
    move.change_address = "" if change < 0 else str(vouts[change]["scriptPubKey"]["address"])
    move.inputs = [
        [str(vin["txid"]), int(vin["vout"]), _input_sats(inp)]
        for vin, inp in zip(decoded["tx"]["vin"], decoded["inputs"], strict=True)
    ]
    move.fee_sats = fee
    move.psbt_unsigned = str(funded["psbt"])
    move.status = ColdMoveStatus.PSBT_READY
    move.save(update_fields=["hot_address", "change_address", "inputs", "fee_sats",
                             "psbt_unsigned", "status", "updated_at"])  # fmt: skip


def _input_sats(psbt_input: dict[str, Any]) -> int:
    utxo = psbt_input.get("witness_utxo")
    if utxo is None:
        raise PsbtRefused("The built PSBT lacks an input amount")
    return sats(utxo["amount"])


def cold_move_psbt_download(
    *, move_id: int, actor: Actor, client_address: str | None = None
) -> str:
    """Return the unsigned PSBT (base64) for offline signing, and audit who took it."""
    actor = require_perm(actor, COLD_MOVE_PERMISSION)
    with transaction.atomic():
        move = _locked(move_id, ColdMoveStatus.PSBT_READY)
        audit_record(actor=actor, action="cold_move.psbt_download", obj=move,
                     data={"inputs": move.inputs}, client_address=client_address)  # fmt: skip
    return move.psbt_unsigned


def _psbt_check(move: ColdMove, psbt: str) -> tuple[str, str, int]:
    """Refuse a signed PSBT unless it pays exactly what was approved; return (hex, txid, fee)."""
    node = node_client()
    try:
        decoded = node.call("decodepsbt", psbt)
    except NodeError as exc:
        raise PsbtRefused(f"Not a PSBT: {exc.message}") from exc
    tx = decoded["tx"]
    built = {(str(txid), int(vout)): int(amount) for txid, vout, amount in move.inputs}
    spent = [(str(vin["txid"]), int(vin["vout"])) for vin in tx["vin"]]
    if len(spent) != len(built) or set(spent) != set(built):
        raise PsbtRefused("The PSBT spends other inputs than the one built")
    paid_hot, change_count, out_total = 0, 0, 0
    cold = cold_wallet()
    for vout in tx["vout"]:
        value = sats(vout["value"])
        out_total += value
        address = vout["scriptPubKey"].get("address")
        if address is None:
            raise PsbtRefused(f"Output {vout['n']} pays no address")
        if address == move.hot_address:
            if value != move.amount_sats or paid_hot:
                raise PsbtRefused(f"The hot address is paid {value} sats, not exactly "
                                  f"{move.amount_sats} sats once")  # fmt: skip
            paid_hot = value
        elif cold.call("getaddressinfo", address).get("ismine"):
            change_count += 1
        else:
            raise PsbtRefused(f"Output {vout['n']} pays {address}, neither the approved hot "
                              "address nor the cold wallet")  # fmt: skip
    if not paid_hot:
        raise PsbtRefused("The PSBT does not pay the approved hot address")
    if change_count > 1:
        raise PsbtRefused("The PSBT has more than one change output")
    fee = sum(built.values()) - out_total
    if not 0 <= fee <= int(settings.COLD_FEE_MAX_SATS):
        raise PsbtRefused(f"The fee {fee} sats is over the cap {settings.COLD_FEE_MAX_SATS} sats")
    final = node.call("finalizepsbt", psbt, True)
    if not final.get("complete"):
        raise PsbtRefused("The PSBT is not fully signed")
    raw = node.call("decoderawtransaction", final["hex"])
    if raw["txid"] != tx["txid"]:
        raise PsbtRefused("The final transaction differs from the PSBT")
    accepted = node.call("testmempoolaccept", [final["hex"]])[0]
    if not accepted.get("allowed"):
        raise PsbtRefused(f"The node would not accept it: {accepted.get('reject-reason')}")
    return str(final["hex"]), str(raw["txid"]), fee


def cold_move_psbt_submit(
    *, move_id: int, psbt: str, actor: Actor, client_address: str | None = None
) -> ColdMove:
    """Check the signed PSBT, commit the final transaction, then broadcast it."""
    actor = require_perm(actor, COLD_MOVE_PERMISSION)
    psbt = (psbt or "").strip()
    if not psbt or len(psbt) > PSBT_CHARS_MAX:
        raise PsbtRefused("Upload the signed PSBT (base64)")
    move = ColdMove.objects.filter(pk=move_id).first()
    if move is None or move.status != ColdMoveStatus.PSBT_READY:
        raise ColdMoveState("The cold move is not waiting for a signed PSBT")
    try:
        raw_hex, txid, fee = _psbt_check(move, psbt)
    except PsbtRefused as exc:
        with transaction.atomic():
            audit_record(actor=actor, action="cold_move.psbt_refused", obj=move,
                         data={"error": exc.message}, client_address=client_address)  # fmt: skip
        raise
    with transaction.atomic():
        move = _locked(move_id, ColdMoveStatus.PSBT_READY)
        move.psbt_signed = psbt
        move.raw_tx = raw_hex
        move.txid = txid
        move.fee_sats = fee
        move.status = ColdMoveStatus.SIGNED
        move.save(update_fields=["psbt_signed", "raw_tx", "txid", "fee_sats", "status",
                                 "updated_at"])  # fmt: skip
        audit_record(actor=actor, action="cold_move.psbt_upload", obj=move,
                     data={"txid": txid, "fee_sats": fee}, client_address=client_address)  # fmt: skip
    cold_move_broadcast(move_id=move.pk)
    move.refresh_from_db()
    return move


def _on_broadcast(move: ColdMove) -> Sequence[str]:
    """Book cold -> in_transit and the miner fee."""
    return transit_legs_book(move, source=ledger(AccountKind.CUSTODY_COLD),
                             key=f"cold-move:{move.pk}", memo="cold to hot")  # fmt: skip


def _on_confirm(move: ColdMove) -> Sequence[str]:
    """Book in_transit -> hot."""
    return transit_settle_book(move, target=ledger(AccountKind.CUSTODY_HOT),
                               key=f"cold-move:{move.pk}", memo="cold to hot")  # fmt: skip


# The transaction pays the hot wallet, so the hot wallet's client sends and follows it.
COLD_MOVE_SPEND = SpendKind(
    name="cold_move", model=ColdMove,
    signed=ColdMoveStatus.SIGNED, broadcast=ColdMoveStatus.BROADCAST,
    confirmed=ColdMoveStatus.CONFIRMED, failed=ColdMoveStatus.FAILED,
    confirmations_needed=lambda: 1,
    on_broadcast=_on_broadcast, on_confirm=_on_confirm, on_fail=transit_legs_reverse,
    broadcast_max=CONFIRM_MAX, confirm_max=CONFIRM_MAX,
)  # fmt: skip


def cold_move_broadcast(*, move_id: int) -> bool:
    """(Re-)send the committed transaction's exact bytes; book cold -> in_transit once."""
    return spend_broadcast(COLD_MOVE_SPEND, spend_id=move_id)


def cold_moves_broadcast() -> int:
    """Retry every committed, unbroadcast move."""
    return spends_broadcast(COLD_MOVE_SPEND)


def cold_moves_confirm() -> int:
    """Settle broadcast moves once the hot wallet sees them confirmed (in_transit -> hot)."""
    return spends_confirm(COLD_MOVE_SPEND)
