"""Reconciliation: the node's wallets against the ledger, and every wallet transaction
against what the bank recorded. One service for the periodic task, the admin button and
``manage.py reconcile``; each run is stored with its figures.

Custody ledger accounts are negative mirrors: the ledger says the hot wallet holds
``-custody_hot.posted`` satoshis. What the node shows differs from that by movements the
ledger books later or never, each listed in the figures:

* deposits seen but not credited yet (pending) or never (dust) are on the node;
* withdrawal batches broadcast but not confirmed have left the node (booked at confirmation);
* sweeps and cold moves in flight are booked in ``in_transit`` until confirmed.

The reserve ratio counts only what the deposit policy counts as confirmed
(``DEPOSIT_SPENDABLE_CONFIRMATIONS`` and each address's own count): coins of deposits
not yet credited, and of credited deposits below their confirmations (held on the
owner's account, custody/services/unconfirm.py), are on the node but not assets; the
held credits are taken out of the liabilities too, since they are reversed if the
chain drops them. A credit the owner spent before a reorg un-confirmed it therefore
shows as a ratio below 100% until the chain decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, Sum

from accounts.actor import Actor
from accounts.models import Transfer
from audit.chain import audit_record
from compliance.models import Case, CaseStatus
from compliance.services import case_open
from custody.errors import WalletNotFound
from custody.models import (
    BatchStatus,
    Deposit,
    DepositStatus,
    FeeBump,
    FeeBumpStatus,
    Withdrawal,
    WithdrawalBatch,
)
from custody.node import NodeClient, hot_wallet, sats
from custody.selectors import unconfirmed_credited_sats
from treasury.models import (
    ColdMove,
    ColdMoveStatus,
    ReconciliationRun,
    ReconciliationStatus,
    Sweep,
    SweepStatus,
)
from treasury.services.common import cold_wallet, cold_wallet_name, custody_accounts
from treasury.services.descriptors import cold_coins_unapproved
from treasury.services.sweeps import customer_liabilities_sats

logger = logging.getLogger("alatau.treasury.reconcile")

# listsinceblock re-reads the last blocks so a transaction seen at 0-6 confirmations
# is matched again once the bank has recorded it.
LAG_CONFIRMATIONS = 6
LISTED_MAX = 200
RATIO_FULL_BP = 10_000
KNOWN_SOURCES = (
    ("custody", "deposit"), ("custody", "withdrawal"), ("custody", "withdrawalbatch"),
    ("accounts", "hold"), ("treasury", "sweep"), ("treasury", "coldmove"), ("custody", "feebump"),
)  # fmt: skip


@dataclass
class _Wallet:
    name: str
    trusted_sats: int = 0
    pending_sats: int = 0
    immature_sats: int = 0
    loaded: bool = True
    entries: list[dict[str, Any]] = field(default_factory=list)
    cursor: str = ""

    @property
    def total_sats(self) -> int:
        return self.trusted_sats + self.pending_sats


def _read_wallet(client: NodeClient, name: str, cursor: str) -> _Wallet:
    wallet = _Wallet(name=name)
    try:
        mine = client.call("getbalances")["mine"]
    except WalletNotFound:
        wallet.loaded = False
        return wallet
    wallet.trusted_sats = sats(mine["trusted"])
    wallet.pending_sats = sats(mine["untrusted_pending"])
    wallet.immature_sats = sats(mine["immature"])
    reply = client.call("listsinceblock", cursor, LAG_CONFIRMATIONS, True, False)
    wallet.entries = list(reply.get("transactions", []))
    wallet.cursor = str(reply["lastblock"])
    return wallet


def _sum(queryset: Any, name: str = "amount_sats") -> int:
    return int(queryset.aggregate(total=Sum(name))["total"] or 0)


def _in_flight() -> dict[str, int]:
    batches = WithdrawalBatch.objects.filter(status=BatchStatus.BROADCAST)
    unconfirmed = unconfirmed_credited_sats()
    return {
        "deposits_uncredited_sats": _sum(Deposit.objects.filter(
            status__in=(DepositStatus.PENDING, DepositStatus.DUST), confirmations__gte=0)),
        "deposits_pending_sats": _sum(Deposit.objects.filter(
            status=DepositStatus.PENDING, confirmations__gte=0)),
        "deposits_credited_unconfirmed_sats": unconfirmed["total_sats"],
        "deposits_credited_unconfirmed_held_sats": unconfirmed["held_sats"],
        "batches_unconfirmed_sats": _sum(Withdrawal.objects.filter(batch__in=batches))
        + _sum(batches, "fee_sats"),
        "cold_moves_in_transit_sats": _sum(ColdMove.objects.filter(
            status=ColdMoveStatus.BROADCAST)),
        "sweeps_in_transit_sats": _sum(Sweep.objects.filter(status=SweepStatus.BROADCAST)),
        # A CPFP child in the mempool has paid its fee on the node, not yet on the ledger.
        "fee_bumps_unconfirmed_sats": _sum(
            FeeBump.objects.filter(status=FeeBumpStatus.BROADCAST), "fee_sats"),
    }  # fmt: skip


def _figures(hot: _Wallet, cold: _Wallet) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    hot_acc, cold_acc, transit_acc, _ = custody_accounts()
    flight = _in_flight()
    hot_expected = (
        -hot_acc.posted_minor
        + flight["deposits_uncredited_sats"]
        + flight["cold_moves_in_transit_sats"]
        - flight["batches_unconfirmed_sats"]
        - flight["fee_bumps_unconfirmed_sats"]
    )
    cold_expected = -cold_acc.posted_minor + flight["sweeps_in_transit_sats"]
    transit_expected = flight["cold_moves_in_transit_sats"] + flight["sweeps_in_transit_sats"]
    liabilities = customer_liabilities_sats() - flight["deposits_credited_unconfirmed_held_sats"]
    on_node = hot.total_sats + cold.total_sats
    assets = (on_node - flight["deposits_pending_sats"]
              - flight["deposits_credited_unconfirmed_sats"])  # fmt: skip
    ratio_bp = None if liabilities <= 0 else assets * RATIO_FULL_BP // liabilities
    figures: dict[str, Any] = {
        "hot": {"wallet": hot.name, "node_confirmed_sats": hot.trusted_sats,
                "node_pending_sats": hot.pending_sats, "node_immature_sats": hot.immature_sats,
                "ledger_sats": -hot_acc.posted_minor, "expected_on_node_sats": hot_expected},
        "cold": {"wallet": cold.name, "loaded": cold.loaded,
                 "node_confirmed_sats": cold.trusted_sats, "node_pending_sats": cold.pending_sats,
                 "ledger_sats": -cold_acc.posted_minor, "expected_on_node_sats": cold_expected},
        "in_transit": {"ledger_sats": -transit_acc.posted_minor,
                       "expected_sats": transit_expected},
        "in_flight": flight,
        "reserve": {"liabilities_sats": liabilities, "assets_sats": assets,
                    "ratio_bp": ratio_bp, "on_node_sats": on_node,
                    "counts": "confirmed only: deposits below their required confirmations "
                              "are neither assets nor (when held) liabilities"},
    }  # fmt: skip
    diffs: list[dict[str, Any]] = []
    for name, node_sats, expected in (
        ("hot", hot.total_sats, hot_expected), ("cold", cold.total_sats, cold_expected),
        ("in_transit", -transit_acc.posted_minor, transit_expected),
    ):  # fmt: skip
        if node_sats != expected:
            diffs.append({"figure": name, "actual_sats": node_sats, "expected_sats": expected,
                          "difference_sats": node_sats - expected})  # fmt: skip
    if ratio_bp is not None and ratio_bp < RATIO_FULL_BP:
        diffs.append({"figure": "reserve_ratio", "ratio_bp": ratio_bp, "minimum_bp": RATIO_FULL_BP,
                      "assets_sats": assets, "liabilities_sats": liabilities})  # fmt: skip
    return figures, diffs


def _unknown_transactions(hot: _Wallet, cold: _Wallet) -> list[dict[str, Any]]:
    """Wallet transactions the bank has no record of (deposit, batch, sweep, cold move)."""
    txids = {str(e["txid"]) for w in (hot, cold) for e in w.entries}
    outpoints = set(Deposit.objects.filter(txid__in=txids).values_list("txid", "vout"))
    known = set(WithdrawalBatch.objects.filter(txid__in=txids).values_list("txid", flat=True))
    known |= set(Sweep.objects.filter(txid__in=txids).values_list("txid", flat=True))
    known |= set(FeeBump.objects.filter(txid__in=txids).values_list("txid", flat=True))
    known |= {
        str(t) for t in ColdMove.objects.filter(txid__in=txids).values_list("txid", flat=True)
    }
    unknown: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for wallet in (hot, cold):
        for entry in wallet.entries:
            category, txid = str(entry.get("category")), str(entry["txid"])
            if category not in ("send", "receive") or txid in known:
                continue
            vout = int(entry.get("vout", -1))
            if category == "receive" and (txid, vout) in outpoints:
                continue
            key = (wallet.name, txid, category, vout)
            unknown[key] = {"wallet": wallet.name, "txid": txid, "category": category,
                            "vout": vout, "address": str(entry.get("address", "")),
                            "amount_sats": sats(entry["amount"]),
                            "confirmations": int(entry.get("confirmations", 0))}  # fmt: skip
    return list(unknown.values())[:LISTED_MAX]


def _unmatched_transfers(after_id: int) -> tuple[list[dict[str, Any]], int]:
    """Ledger transfers on custody accounts that no chain record stands behind."""
    hot_acc, cold_acc, transit_acc, _ = custody_accounts()
    ids = (hot_acc.pk, cold_acc.pk, transit_acc.pk)
    known_types = {ContentType.objects.get_by_natural_key(a, m).pk for a, m in KNOWN_SOURCES}
    last_id = int(Transfer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
    found = []
    transfers = (
        Transfer.objects.filter(pk__gt=after_id, pk__lte=last_id)
        .filter(Q(debit_account_id__in=ids) | Q(credit_account_id__in=ids))
        .select_related("reverses").order_by("pk")
    )  # fmt: skip
    for transfer in transfers.iterator(chunk_size=1000):
        source = transfer.reverses if transfer.reverses_id else transfer
        if source is not None and source.source_type_id in known_types:
            continue
        found.append({"transfer_id": transfer.pk, "code": transfer.code,
                      "amount_sats": transfer.amount_minor, "memo": transfer.memo,
                      "debit_account": transfer.debit_account_id,
                      "credit_account": transfer.credit_account_id})  # fmt: skip
        if len(found) >= LISTED_MAX:
            break
    return found, last_id


def reconcile(*, trigger: str = "periodic", actor: Actor = None) -> ReconciliationRun:
    """Compare node and ledger, store the run; on a mismatch open a case and alert."""
    previous = ReconciliationRun.objects.order_by("-pk").first()
    cursors = dict(previous.cursors) if previous else {}
    hot_name = str(hot_wallet().wallet_name)
    hot = _read_wallet(hot_wallet(), hot_name, str(cursors.get(hot_name, "")))
    cold = _read_wallet(cold_wallet(), cold_wallet_name(), str(cursors.get(cold_wallet_name(), "")))
    figures, diffs = _figures(hot, cold)
    unknown = _unknown_transactions(hot, cold)
    if unknown:
        diffs.append({"figure": "unknown_transactions", "count": len(unknown),
                      "txids": sorted({u["txid"] for u in unknown})})  # fmt: skip
    if cold.loaded:
        unpinned = cold_coins_unapproved()
        figures["cold"]["unapproved_descriptor_sats"] = unpinned["coins_sats"]
        if unpinned["coins_sats"]:
            # Coins on a descriptor nobody approved may not be the bank's keys at all: they
            # are flagged and not counted as reserves.
            diffs.append({"figure": "cold_unapproved_descriptor", **unpinned})
            reserve = figures["reserve"]
            reserve["assets_sats"] -= unpinned["coins_sats"]
            liabilities = reserve["liabilities_sats"]
            reserve["ratio_bp"] = (
                None if liabilities <= 0 else reserve["assets_sats"] * RATIO_FULL_BP // liabilities
            )
    unmatched, last_id = _unmatched_transfers(previous.last_transfer_id if previous else 0)
    if unmatched:
        diffs.append({"figure": "ledger_transfers_without_chain_record",
                      "transfers": unmatched})  # fmt: skip
    status = ReconciliationStatus.MISMATCH if diffs else ReconciliationStatus.OK
    new_cursors = {w.name: w.cursor for w in (hot, cold) if w.loaded}
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            status=status, trigger=trigger[:16], figures=figures, differences=diffs,
            unknown_transactions=unknown, cursors=new_cursors, last_transfer_id=last_id,
            actor=actor,
        )  # fmt: skip
        if diffs:
            run.case = _alert(run, previous)
            run.save(update_fields=["case"])
        audit_record(actor=actor, action="reconciliation.run", obj=run,
                     data={"status": status, "differences": len(diffs)})  # fmt: skip
    return run


def _alert(run: ReconciliationRun, previous: ReconciliationRun | None) -> Case:
    """Open a case; a run repeating the previous mismatch while its case is open reuses it."""
    figures = sorted(str(d["figure"]) for d in run.differences)
    logger.error("reconciliation %s mismatch: %s", run.pk, run.differences)
    if previous is not None and previous.case_id is not None:
        same = sorted(str(d["figure"]) for d in previous.differences) == figures
        case = Case.objects.filter(pk=previous.case_id).exclude(status=CaseStatus.CLOSED).first()
        if same and case is not None:
            return case
    return case_open(
        kind="reconciliation", subject=run,
        summary=f"Reconciliation {run.pk} mismatch: {', '.join(figures)}"[:250],
        findings=[{"rule": "reconciliation", **d} for d in run.differences],
    )  # fmt: skip
