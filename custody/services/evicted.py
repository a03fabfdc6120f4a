"""Held credits whose transaction left the mempool with no conflict: rebroadcast them.

A reorg can put a credited deposit back in the mempool (held, custody/services/
unconfirm.py); the mempool may then drop it without any conflict (expiry, a full
mempool, a restart without the mempool file). Nothing would ever confirm or reverse it:
it would stay held, its case open, forever. Each scan therefore looks at the held,
0-confirmation credits that are not in the node's mempool and sends the raw transaction
(the hot wallet keeps it) again, with no transaction or lock open:

* accepted (or already known): it is back in the mempool; it stays held and is released
  by ``confirmations_follow`` when it confirms;
* refused because its inputs are spent or missing: a double spend won; the credit is
  reversed exactly as the double-spend path does (``deposit_lose``);
* refused for another reason (fee policy, a mempool conflict that may yet go either
  way): it stays held and the case says why.

Each new outcome is written on the deposit and appended to the deposit's case (one is
opened if the deposit has none, e.g. a 0-confirmation credit), so staff see every step.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from compliance.models import Case, CaseKind, CaseStatus
from compliance.services import case_finding_add, case_open
from custody.errors import NodeError, TxAlreadyInChain
from custody.models import Deposit
from custody.node import NodeClient
from custody.services.reorg import deposit_lose
from custody.services.unconfirm import CREDITED

logger = logging.getLogger("alatau.custody.deposits")

REBROADCAST_MAX = 50
RPC_NOT_FOUND = -5  # getmempoolentry: not in the mempool
RPC_VERIFY_ERROR = -25  # sendrawtransaction: inputs missing or spent
RPC_ALREADY_IN_CHAIN = -27
BACK_IN_MEMPOOL = "back in the mempool"
INPUTS_SPENT = "inputs spent"


def evicted_rebroadcast(*, wallet: NodeClient, node: NodeClient | None = None) -> dict[str, int]:
    """Rebroadcast held 0-confirmation credits missing from the mempool; count outcomes.

    Runs outside any transaction (every call here reaches the node). Bounded per run.
    """
    node = node or wallet
    held = (
        Deposit.objects.filter(status__in=CREDITED, unconfirmed=True, confirmations=0)
        .order_by("pk").values_list("pk", "txid")[:REBROADCAST_MAX]
    )  # fmt: skip
    by_txid: dict[str, list[int]] = {}
    for pk, txid in held:
        by_txid.setdefault(txid, []).append(pk)
    counts = {"back": 0, "lost": 0, "refused": 0}
    for txid, deposit_ids in by_txid.items():
        try:
            if _in_mempool(node, txid):
                continue
            outcome = _rebroadcast(wallet, node, txid)
        except NodeError as exc:  # one the node refuses does not stop the rest (a node that
            # is down raises NodeUnavailable, not a NodeError: the scan's task retries)
            logger.warning("cannot rebroadcast held deposit transaction %s: %s", txid, exc)
            continue
        logger.warning("held deposit transaction %s was not in the mempool: %s", txid, outcome)
        for deposit_id in deposit_ids:
            if outcome == INPUTS_SPENT:
                reason = "evicted from the mempool and its inputs spent (double-spent)"
                counts["lost"] += int(deposit_lose(deposit_id=deposit_id, reason=reason))
            else:
                counts["back" if outcome == BACK_IN_MEMPOOL else "refused"] += 1
                deposit_rebroadcast_record(deposit_id=deposit_id, outcome=outcome)
    return counts


def _in_mempool(node: NodeClient, txid: str) -> bool:
    try:
        node.call("getmempoolentry", txid)
    except NodeError as exc:
        if exc.rpc_code == RPC_NOT_FOUND:
            return False
        raise
    return True


def _rebroadcast(wallet: NodeClient, node: NodeClient, txid: str) -> str:
    """Send the wallet's copy of ``txid`` again; return what the node made of it."""
    raw = str(wallet.call("gettransaction", txid, True)["hex"])
    try:
        node.call("sendrawtransaction", raw)
    except NodeError as exc:
        text = str(exc.message).lower()
        if exc.rpc_code == RPC_ALREADY_IN_CHAIN or isinstance(exc, TxAlreadyInChain):
            return BACK_IN_MEMPOOL  # mined meanwhile: the next scan sees its confirmations
        if exc.rpc_code == RPC_VERIFY_ERROR and ("missing" in text or "spent" in text):
            return INPUTS_SPENT
        return f"refused: {exc.message}"[:200]
    return BACK_IN_MEMPOOL


def deposit_rebroadcast_record(*, deposit_id: int, outcome: str) -> bool:
    """Write a rebroadcast's outcome on the held deposit and its case; True if it is new."""
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().filter(pk=deposit_id).first()
        if deposit is None or deposit.status not in CREDITED or not deposit.unconfirmed:
            return False
        if deposit.rebroadcast_result == outcome:
            return False  # the same as last time: the case already says so
        deposit.rebroadcast_result = outcome[:200]
        deposit.rebroadcast_at = timezone.now()
        deposit.save(update_fields=["rebroadcast_result", "rebroadcast_at", "updated_at"])
        finding = {"rule": "deposit_evicted", "txid": deposit.txid, "vout": deposit.vout,
                   "rebroadcast": outcome, "at": deposit.rebroadcast_at.isoformat()}  # fmt: skip
        case = (
            Case.objects.filter(subject_type=deposit._meta.label_lower, subject_id=str(deposit.pk))
            .exclude(status=CaseStatus.CLOSED).order_by("-pk").first()
        )  # fmt: skip
        if case is not None:
            case_finding_add(case_id=case.pk, finding=finding)
        else:
            case_open(
                kind=CaseKind.DEPOSIT_REORG, subject=deposit,
                summary=f"Held deposit {deposit.txid}:{deposit.vout} left the mempool with no "
                f"conflict; rebroadcast: {outcome}",
                findings=[finding], amount_minor=deposit.amount_sats, currency="BTC",
            )  # fmt: skip
        return True
