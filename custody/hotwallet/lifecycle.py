"""The one lifecycle of a committed spend: signed -> broadcast -> confirmed, or failed.

Node calls happen outside any transaction; each state change is one short transaction
with the spend's row locked, that re-checks the state it leaves, so a retry (or a broker
delivering twice) never books anything twice. The kind's hooks add its own ledger legs.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from audit.chain import audit_record
from custody.errors import NodeError, NodeUnavailable, TxAlreadyInChain, TxRejected
from custody.hotwallet.kinds import SpendKind
from custody.hotwallet.verdict import rejected_tx_verdict
from custody.node import NodeClient, hot_wallet

logger = logging.getLogger("alatau.custody.hotwallet")

CRASH_POINTS = ("after_sign", "after_commit", "after_broadcast")
ERROR_CHARS_MAX = 300


def crash_point(name: str) -> None:
    """Test hook: tests monkeypatch this to raise at a named point and simulate a crash."""


def _fields(model: type[models.Model], names: list[str]) -> list[str]:
    """``names`` that the model has, plus ``updated_at`` where it keeps one."""
    have = {field.name for field in model._meta.concrete_fields}
    return [name for name in dict.fromkeys([*names, "updated_at"]) if name in have]


def _locked(kind: SpendKind, spend_id: int) -> Any:
    return kind.rows().select_for_update().get(pk=spend_id)


def spends_broadcast(kind: SpendKind, *, client: NodeClient | None = None) -> int:
    """(Re-)send every committed, unsent spend's exact bytes; return how many went out."""
    hot = client or hot_wallet()
    ids = kind.unsent().order_by("pk").values_list("pk", flat=True)
    return sum(
        1 for spend_id in list(ids[: kind.broadcast_max])
        if spend_broadcast(kind, spend_id=spend_id, client=hot)
    )  # fmt: skip


def spend_broadcast(kind: SpendKind, *, spend_id: int, client: NodeClient | None = None) -> bool:
    """Send one committed spend's bytes; book it broadcast once the node has it.

    ``client`` is a wallet the transaction touches (the hot wallet: every spend here pays
    from or to it), so the node can say whether it already knows the transaction.
    """
    hot = client or hot_wallet()
    spend: Any = kind.rows().filter(pk=spend_id).first()
    if spend is None or spend.status != kind.signed:
        return False
    held = kind.hold_reason(spend)
    if held:
        logger.warning("committed spend held, not sent",
                       extra={"kind": kind.name, "spend": spend_id, "reason": held})  # fmt: skip
        return False
    try:
        hot.call("sendrawtransaction", spend.raw_tx)
    except TxAlreadyInChain:
        pass  # an earlier attempt got through: that is success
    except TxRejected as exc:
        _rejection_record(kind, spend, str(exc))
        verdict = rejected_tx_verdict(hot, txid=str(spend.txid), inputs=spend.inputs)
        if verdict == "lost":
            spend_fail(kind, spend_id=spend_id, reason=f"inputs spent elsewhere: {exc}")
        if verdict != "known":
            return False
        # "known": sent before a crash and since mined or spent on: book it now.
    crash_point("after_broadcast")
    with transaction.atomic():
        spend = _locked(kind, spend_id)
        if spend.status != kind.signed:
            return False
        names = list(kind.on_broadcast(spend))
        spend.status = kind.broadcast
        spend.broadcast_at = timezone.now()
        if hasattr(spend, "broadcast_attempts"):
            spend.broadcast_attempts += 1
        spend.save(update_fields=_fields(kind.model,
                                         ["status", "broadcast_at", "broadcast_attempts", *names]))  # fmt: skip
        audit_record(actor=None, action=f"{kind.name}.broadcast", obj=spend,
                     data={"txid": spend.txid})  # fmt: skip
    return True


def _rejection_record(kind: SpendKind, spend: Any, error: str) -> None:
    """Keep a refused spend for retry with its error; it fails only when it can never confirm."""
    changes: dict[str, Any] = {"last_error": error[:ERROR_CHARS_MAX]}
    if hasattr(spend, "broadcast_attempts"):
        changes["broadcast_attempts"] = models.F("broadcast_attempts") + 1
    kind.rows().filter(pk=spend.pk).update(**changes)
    logger.error("%s %s refused by the node: %s", kind.name, spend.txid, error)


def spends_confirm(kind: SpendKind, *, client: NodeClient | None = None) -> int:
    """Confirm broadcast spends deep enough; fail conflicted ones; re-send dropped ones."""
    hot = client or hot_wallet()
    needed = kind.confirmations_needed()
    done = 0
    pending = kind.rows().filter(status=kind.broadcast).order_by("pk")
    for spend in list(pending[: kind.confirm_max]):
        try:
            reply = hot.call("gettransaction", spend.txid)
        except NodeUnavailable:
            raise  # the node is down: the task's retry policy takes over
        except NodeError as exc:
            # One item the node refuses must not block the others: note it, go on.
            _rejection_record(kind, spend, f"gettransaction: {exc}")
            continue
        confirmations = int(reply.get("confirmations", 0))
        if confirmations == 0 and reply.get("in_mempool") is False:
            _rebroadcast(hot, kind, spend)  # dropped from the mempool (e.g. a node restart)
        if confirmations < 0:
            spend_fail(kind, spend_id=spend.pk, reason="transaction conflicted")
        elif confirmations >= needed:
            done += int(_confirm_one(kind, spend.pk, confirmations))
        elif confirmations != spend.confirmations:
            kind.rows().filter(pk=spend.pk).update(confirmations=confirmations)
    return done


def _rebroadcast(hot: NodeClient, kind: SpendKind, spend: Any) -> None:
    """Send the same bytes again; refusals are logged, the next run tries again."""
    try:
        hot.call("sendrawtransaction", spend.raw_tx)
    except (TxAlreadyInChain, TxRejected) as exc:
        logger.warning("re-broadcast of %s %s: %s", kind.name, spend.txid, exc)


def _confirm_one(kind: SpendKind, spend_id: int, confirmations: int) -> bool:
    with transaction.atomic():
        spend = _locked(kind, spend_id)
        if spend.status != kind.broadcast:
            return False
        names = list(kind.on_confirm(spend))
        spend.status = kind.confirmed
        spend.confirmations = confirmations
        spend.confirmed_at = timezone.now()
        spend.save(update_fields=_fields(kind.model,
                                         ["status", "confirmations", "confirmed_at", *names]))  # fmt: skip
        audit_record(actor=None, action=f"{kind.name}.confirm", obj=spend,
                     data={"txid": spend.txid, "fee_sats": spend.fee_sats})  # fmt: skip
    return True


def spend_fail(kind: SpendKind, *, spend_id: int, reason: str) -> None:
    """Fail a spend that can never confirm (its coins were spent by another transaction).

    Called only when the node says so (inputs spent elsewhere, or the transaction
    conflicted), i.e. when it is certain that this transaction will never pay.
    """
    with transaction.atomic():
        spend = _locked(kind, spend_id)
        if spend.status not in (kind.signed, kind.broadcast):
            return
        names = list(kind.on_fail(spend, reason))
        spend.status = kind.failed
        spend.last_error = reason[:ERROR_CHARS_MAX]
        spend.save(update_fields=_fields(kind.model, ["status", "last_error", *names]))
        audit_record(actor=None, action=f"{kind.name}.fail", obj=spend,
                     data={"txid": spend.txid, "reason": reason})  # fmt: skip
