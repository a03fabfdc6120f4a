"""Rebalancing: sweep the hot wallet's excess to cold; ask for a refill when it runs low.

A sweep is built, signed and committed (its raw transaction and txid stored) before it
is broadcast, like custody's withdrawal batches, through the same rules and lifecycle
(``custody.hotwallet``): a retry re-sends the same bytes. The builder takes the hot
wallet's builder lock that custody's batch builder takes, and never sweeps what approved
or batched-but-unbroadcast withdrawals still need.

Ledger: at broadcast hot -> in_transit (debit in_transit, credit custody_hot; the miner
fee debit fees, credit custody_hot); at confirmation in_transit -> cold (debit
custody_cold, credit in_transit).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import Account, AccountKind
from audit.chain import audit_record
from custody.errors import WalletNotFound
from custody.hotwallet.builder import hot_builder_lock, hot_tx_build, unsent_hot_spend_exists
from custody.hotwallet.fees import fee_rate_sat_vb
from custody.hotwallet.kinds import SpendKind
from custody.hotwallet.lifecycle import spends_broadcast, spends_confirm
from custody.models import BatchStatus, Withdrawal, WithdrawalStatus
from custody.node import btc, hot_wallet, sats
from treasury.models import ColdMove, RebalanceAlert, Sweep, SweepStatus
from treasury.services.common import (
    cold_wallet,
    ledger,
    transit_legs_book,
    transit_legs_reverse,
    transit_settle_book,
)
from treasury.services.descriptors import cold_address_pinned
from treasury.services.moves import OPEN_STATUSES, cold_move_request

logger = logging.getLogger("alatau.treasury.sweeps")

SWEEPS_MAX = 20
ALERT_REPEAT_S = 3600


@dataclass(frozen=True)
class HotBounds:
    min_sats: int
    max_sats: int


@dataclass
class RebalanceReport:
    hot_trusted_sats: int = 0
    reserved_sats: int = 0
    bounds: HotBounds | None = None
    sweep: Sweep | None = None
    cold_move: ColdMove | None = None


def customer_liabilities_sats() -> int:
    """Return what the bank owes customers and merchants in BTC (posted balances)."""
    total = Account.objects.filter(
        currency="BTC", kind__in=(AccountKind.CUSTOMER, AccountKind.MERCHANT)
    ).aggregate(total=Sum("posted_minor"))["total"]
    return int(total or 0)


def hot_bounds() -> HotBounds:
    """Return the hot wallet's bounds: absolute, capped by a share of liabilities if set."""
    maximum = int(settings.HOT_WALLET_MAX_SATS)
    share_bp = int(settings.HOT_WALLET_MAX_SHARE_BP)
    if share_bp > 0:
        maximum = min(maximum, customer_liabilities_sats() * share_bp // 10_000)
    minimum = min(int(settings.HOT_WALLET_MIN_SATS), maximum)
    return HotBounds(min_sats=minimum, max_sats=maximum)


def hot_reserved_sats() -> int:
    """Return what approved and batched-but-unbroadcast withdrawals still need."""
    total = Withdrawal.objects.filter(
        Q(status=WithdrawalStatus.APPROVED)
        | Q(status=WithdrawalStatus.BATCHED, batch__status=BatchStatus.SIGNED)
    ).aggregate(total=Sum("amount_sats"))["total"]
    return int(total or 0)


def treasury_rebalance() -> RebalanceReport:
    """Sweep the excess above the maximum; below the minimum raise a cold-to-hot request."""
    bounds = hot_bounds()
    report = RebalanceReport(bounds=bounds)
    report.hot_trusted_sats = sats(hot_wallet().call("getbalances")["mine"]["trusted"])
    report.reserved_sats = hot_reserved_sats()
    spendable = report.hot_trusted_sats - report.reserved_sats
    excess = spendable - bounds.max_sats
    if excess >= max(1, int(settings.SWEEP_MIN_SATS)):
        report.sweep = sweep_create(amount_sats=excess)
        sweeps_broadcast()
    elif spendable < bounds.min_sats:
        report.cold_move = _refill(spendable, bounds)
    return report


def _refill(spendable: int, bounds: HotBounds) -> ColdMove | None:
    """Raise one cold-to-hot request (none while one is open) and alert staff."""
    if ColdMove.objects.filter(status__in=OPEN_STATUSES).exists():
        return None
    target = (bounds.min_sats + bounds.max_sats) // 2
    try:
        cold_sats = sats(cold_wallet().call("getbalances")["mine"]["trusted"])
    except WalletNotFound:
        cold_sats = 0
    amount = min(target - spendable, cold_sats)  # never ask the cold wallet for more than it has
    recent = timezone.now() - timedelta(seconds=ALERT_REPEAT_S)
    if amount <= 0 and RebalanceAlert.objects.filter(created_at__gte=recent).exists():
        return None  # staff were told recently and there is nothing to request
    logger.warning(
        "hot wallet low: %d sats spendable, minimum %d; cold holds %d; requesting %d sats",
        spendable, bounds.min_sats, cold_sats, max(amount, 0),
    )  # fmt: skip
    with transaction.atomic():
        move = None
        if amount > 0:
            move = cold_move_request(
                amount_sats=amount, actor=None,
                reason=f"Hot wallet below its minimum ({spendable} < {bounds.min_sats} sats)",
            )  # fmt: skip
        RebalanceAlert.objects.create(
            hot_balance_sats=spendable, minimum_sats=bounds.min_sats, cold_move=move
        )
    return move


def sweep_create(*, amount_sats: int) -> Sweep | None:
    """Build, sign and commit one hot -> cold transaction (no broadcast); None if busy.

    Busy: another builder holds the hot wallet's builder lock, or a hot-wallet spend is
    committed but unsent. The node is asked with no row locked; then one commit.
    """
    if amount_sats <= 0:
        return None
    hot = hot_wallet()
    with hot_builder_lock() as wallet:
        if wallet is None or unsent_hot_spend_exists():
            return None  # unsent transactions' coins are not yet spent in the node's eyes
        cold_address = cold_address_pinned()  # only to descriptors two operators approved
        built = hot_tx_build(hot, [{cold_address: btc(amount_sats)}],
                             fee_rate=fee_rate_sat_vb(hot), replaceable=False,  # as batches
                             lock_unspents=False, what="sweep")  # fmt: skip
        with transaction.atomic():
            sweep = Sweep.objects.create(
                amount_sats=amount_sats, cold_address=cold_address, txid=built.txid,
                raw_tx=built.raw_tx, fee_sats=built.fee_sats, inputs=built.inputs,
            )  # fmt: skip
            audit_record(actor=None, action="sweep.create", obj=sweep,
                         data={"txid": sweep.txid, "amount_sats": amount_sats,
                               "cold_address": cold_address, "fee_sats": sweep.fee_sats})  # fmt: skip
    return sweep


def _on_broadcast(sweep: Sweep) -> Sequence[str]:
    """Book hot -> in_transit and the miner fee."""
    return transit_legs_book(sweep, source=ledger(AccountKind.CUSTODY_HOT),
                             key=f"sweep:{sweep.txid}", memo="sweep to cold")  # fmt: skip


def _on_confirm(sweep: Sweep) -> Sequence[str]:
    """Book in_transit -> cold."""
    return transit_settle_book(sweep, target=ledger(AccountKind.CUSTODY_COLD),
                               key=f"sweep:{sweep.txid}", memo="sweep to cold")  # fmt: skip


SWEEP_SPEND = SpendKind(
    name="sweep", model=Sweep,
    signed=SweepStatus.SIGNED, broadcast=SweepStatus.BROADCAST,
    confirmed=SweepStatus.CONFIRMED, failed=SweepStatus.FAILED,
    confirmations_needed=lambda: 1,
    on_broadcast=_on_broadcast, on_confirm=_on_confirm, on_fail=transit_legs_reverse,
    broadcast_max=SWEEPS_MAX, confirm_max=SWEEPS_MAX,
)  # fmt: skip


def sweeps_broadcast() -> int:
    """(Re-)send every committed sweep's exact bytes; book hot -> in_transit once."""
    return spends_broadcast(SWEEP_SPEND)


def sweeps_confirm() -> int:
    """Settle broadcast sweeps with a confirmation (in_transit -> cold); fail conflicted ones."""
    return spends_confirm(SWEEP_SPEND)
