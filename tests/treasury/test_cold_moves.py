"""Sweeps and cold-to-hot refills on the real node, with the stand-in offline signer."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import AccountKind
from accounts.selectors import ledger_check
from accounts.services import system_account, transfer_create
from audit.models import AuditEvent
from custody.models import Withdrawal, WithdrawalStatus
from custody.node import btc, sats
from custody.services import deposit_scan, withdrawal_request
from tests.treasury.conftest import Treasury
from treasury.errors import PsbtRefused
from treasury.models import (
    ColdMove,
    ColdMoveStatus,
    RebalanceAlert,
    Sweep,
    SweepStatus,
)
from treasury.services import (
    cold_move_approve,
    cold_move_psbt_build,
    cold_move_psbt_download,
    cold_move_psbt_submit,
    cold_move_request,
    cold_moves_confirm,
    cold_signer_sign,
    reconcile,
    sweep_create,
    sweeps_broadcast,
    sweeps_confirm,
    treasury_rebalance,
)

pytestmark = pytest.mark.node

BTC = 100_000_000


def _ledger(kind: str) -> int:
    """What the ledger says the bank holds in a custody account (they are negative mirrors)."""
    return -system_account(kind, "BTC").posted_minor


def _assert_agree(t: Treasury) -> None:
    assert t.node_total(t.hot) == _ledger(AccountKind.CUSTODY_HOT)
    assert t.node_total(t.cold) == _ledger(AccountKind.CUSTODY_COLD)
    assert _ledger(AccountKind.IN_TRANSIT) == 0
    assert ledger_check() == []
    run = reconcile(trigger="test")
    assert (run.status, run.differences) == ("ok", [])


def _earn_fees(customer: Any) -> None:
    """Fee income the bank earned: it pays the miner fees of its own moves from it."""
    fees = system_account(AccountKind.FEES, "BTC")
    transfer_create(debit_account_id=customer.pk, credit_account_id=fees.pk,
                    amount_minor=1_000_000, code="fee", memo="fees earned")  # fmt: skip


def _signed_move(t: Treasury, move: ColdMove, staff: Any) -> str:
    """The offline step: staff download the PSBT, the signer device signs it."""
    psbt = cold_move_psbt_download(move_id=move.pk, actor=staff)
    return cold_signer_sign(psbt=psbt)


@override_settings(HOT_WALLET_MAX_SATS=BTC // 2, HOT_WALLET_MIN_SATS=BTC // 5,
                   HOT_WALLET_MAX_SHARE_BP=0, SWEEP_MIN_SATS=100_000)  # fmt: skip
def test_sweep_then_refill_end_to_end(
    treasury: Treasury, funded_account: Callable[..., Any], custody_staff: Callable[..., Any]
) -> None:
    t = treasury
    customer = funded_account()
    t.deposit(customer, 2 * BTC)
    _earn_fees(customer)
    _assert_agree(t)

    # Above the maximum: the excess goes to a fresh cold address, booked via in_transit.
    report = treasury_rebalance()
    sweep = report.sweep
    assert sweep is not None and sweep.amount_sats == 2 * BTC - BTC // 2
    sweep.refresh_from_db()
    assert sweep.status == SweepStatus.BROADCAST
    assert t.cold.call("getaddressinfo", sweep.cold_address)["ismine"]
    # Not replaceable (BIP 125): its txid, which the ledger tracks, cannot change.
    decoded = t.client.call("decoderawtransaction", sweep.raw_tx)
    assert all(vin["sequence"] >= 0xFFFFFFFE for vin in decoded["vin"])
    assert _ledger(AccountKind.IN_TRANSIT) == sweep.amount_sats
    assert _ledger(AccountKind.CUSTODY_HOT) == 2 * BTC - sweep.amount_sats - sweep.fee_sats
    t.sync()  # the wallets learn of the broadcast sweep asynchronously
    assert reconcile(trigger="test").status == "ok"  # in flight is explained
    t.mine(1)
    assert sweeps_confirm() == 1
    assert _ledger(AccountKind.CUSTODY_COLD) == sweep.amount_sats
    _assert_agree(t)
    assert treasury_rebalance().sweep is None  # at the maximum now: nothing more to sweep

    # Below the minimum: a cold-to-hot request is raised and staff alerted.
    with override_settings(HOT_WALLET_MIN_SATS=BTC * 6 // 10, HOT_WALLET_MAX_SATS=BTC):
        report = treasury_rebalance()
    move = report.cold_move
    assert move is not None and move.requested_by is None
    spendable = _ledger(AccountKind.CUSTODY_HOT)
    assert move.amount_sats == (BTC * 6 // 10 + BTC) // 2 - spendable
    assert RebalanceAlert.objects.filter(cold_move=move).exists()

    first, second = custody_staff(), custody_staff()
    cold_move_approve(move_id=move.pk, actor=first)
    cold_move_approve(move_id=move.pk, actor=second)
    move = cold_move_psbt_build(move_id=move.pk, actor=first)
    assert move.status == ColdMoveStatus.PSBT_READY
    assert not t.cold.call("getwalletinfo")["private_keys_enabled"]
    move = cold_move_psbt_submit(move_id=move.pk, psbt=_signed_move(t, move, first), actor=second)
    assert move.status == ColdMoveStatus.BROADCAST
    assert _ledger(AccountKind.IN_TRANSIT) == move.amount_sats
    t.sync()
    t.mine(1)
    assert cold_moves_confirm() == 1
    deposit_scan()  # records the hot receipt as the bank's own (never credited)
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.CONFIRMED
    assert _ledger(AccountKind.CUSTODY_HOT) == spendable + move.amount_sats
    _assert_agree(t)
    steps = set(AuditEvent.objects.filter(object_id=str(move.pk), action__startswith="cold_move.")
                .values_list("action", flat=True))  # fmt: skip
    assert steps >= {"cold_move.request", "cold_move.approve", "cold_move.psbt_build",
                     "cold_move.psbt_download", "cold_move.psbt_upload", "cold_move.broadcast",
                     "cold_move.confirm"}  # fmt: skip


def _tampered(t: Treasury, move: ColdMove, outputs: list[dict[str, str]]) -> str:
    """A PSBT over the same inputs paying ``outputs``, signed by the offline signer."""
    inputs = [{"txid": txid, "vout": vout} for txid, vout, _ in move.inputs]
    psbt = t.client.call("createpsbt", inputs, outputs, 0, True)
    return cold_signer_sign(psbt=psbt)


@override_settings(COLD_FEE_MAX_SATS=20_000)
def test_psbt_paying_other_than_approved_is_refused(
    treasury: Treasury, custody_staff: Callable[..., Any]
) -> None:
    t = treasury
    t.funder.send_to_address(str(t.cold.call("getnewaddress", "", "bech32")), BTC)
    t.mine(1)
    requester, first, second = custody_staff(), custody_staff(), custody_staff()
    move = cold_move_request(amount_sats=BTC // 4, reason="refill", actor=requester)
    cold_move_approve(move_id=move.pk, actor=first)
    cold_move_approve(move_id=move.pk, actor=second)
    move = cold_move_psbt_build(move_id=move.pk, actor=first)
    total_in = sum(amount for _, _, amount in move.inputs)
    amount, fee = move.amount_sats, int(move.fee_sats or 0)
    change = total_in - amount - fee
    outside = t.outside_address()
    cases = {
        "extra output": [{move.hot_address: btc(amount)}, {outside: btc(10_000)},
                         {move.change_address: btc(change - 10_000)}],
        "other address": [{outside: btc(amount)}, {move.change_address: btc(change)}],
        "more to hot": [{move.hot_address: btc(amount + 10_000)},
                        {move.change_address: btc(change - 10_000)}],
        "larger fee": [{move.hot_address: btc(amount)},
                       {move.change_address: btc(change - 30_000)}],
    }  # fmt: skip
    for name, outputs in cases.items():
        with pytest.raises(PsbtRefused):
            cold_move_psbt_submit(move_id=move.pk, psbt=_tampered(t, move, outputs), actor=first)
        move.refresh_from_db()
        assert move.status == ColdMoveStatus.PSBT_READY, name
    with pytest.raises(PsbtRefused, match="not fully signed"):
        cold_move_psbt_submit(move_id=move.pk, psbt=move.psbt_unsigned, actor=first)
    assert AuditEvent.objects.filter(action="cold_move.psbt_refused").count() == 5
    assert Sweep.objects.count() == 0 and move.txid is None

    move = cold_move_psbt_submit(move_id=move.pk, psbt=_signed_move(t, move, first), actor=second)
    assert move.status == ColdMoveStatus.BROADCAST
    decoded = t.client.call("decoderawtransaction", move.raw_tx)
    paid = {o["scriptPubKey"]["address"]: sats(Decimal(o["value"])) for o in decoded["vout"]}
    assert paid[move.hot_address] == amount


@override_settings(HOT_WALLET_MAX_SATS=BTC // 10, HOT_WALLET_MIN_SATS=0, SWEEP_MIN_SATS=1)
def test_sweep_is_committed_before_broadcast_and_never_booked_twice(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    t = treasury
    customer = funded_account()
    t.deposit(customer, BTC)
    _earn_fees(customer)
    sweep = sweep_create(amount_sats=BTC // 2)
    assert sweep is not None and sweep.status == SweepStatus.SIGNED
    assert _ledger(AccountKind.IN_TRANSIT) == 0  # nothing booked before the broadcast
    assert sweep_create(amount_sats=1_000) is None  # one unbroadcast sweep at a time
    assert sweeps_broadcast() == 1
    t.client.call("sendrawtransaction", sweep.raw_tx)  # a retry re-sends the same bytes
    assert sweeps_broadcast() == 0
    assert _ledger(AccountKind.IN_TRANSIT) == BTC // 2
    t.mine(1)
    assert sweeps_confirm() == 1 and sweeps_confirm() == 0
    _assert_agree(t)


def test_sweep_whose_coins_were_spent_elsewhere_fails_unbooked(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    t = treasury
    t.deposit(funded_account(), BTC)
    sweep = sweep_create(amount_sats=BTC // 2)
    assert sweep is not None
    # Before the broadcast, the same coins go elsewhere (an outside spend of the hot wallet).
    t.hot.call("sendtoaddress", t.outside_address(), btc(BTC), "", "", True)
    # Mine it: left in the mempool, a sweep paying a higher fee could replace it
    # (full RBF), and this test is about coins already spent on chain.
    t.mine(1)
    t.sync()
    assert sweeps_broadcast() == 0
    sweep.refresh_from_db()
    assert sweep.status == SweepStatus.FAILED
    assert "spent elsewhere" in sweep.last_error
    assert _ledger(AccountKind.IN_TRANSIT) == 0
    assert _ledger(AccountKind.CUSTODY_HOT) == BTC


@override_settings(HOT_WALLET_MAX_SATS=BTC // 10, HOT_WALLET_MIN_SATS=0, SWEEP_MIN_SATS=1)
def test_rebalancer_never_sweeps_what_approved_withdrawals_need(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    t = treasury
    customer = funded_account()
    t.deposit(customer, BTC)
    withdrawal = withdrawal_request(
        account=customer, address=t.outside_address(), amount_sats=BTC // 2,
        requested_by=customer.owner, idempotency_key="w1",
    )  # fmt: skip
    if withdrawal.status != WithdrawalStatus.APPROVED:  # whatever screening decided: approve
        Withdrawal.objects.filter(pk=withdrawal.pk).update(status=WithdrawalStatus.APPROVED)
    report = treasury_rebalance()
    assert report.reserved_sats == BTC // 2
    assert report.sweep is not None
    assert report.sweep.amount_sats == BTC - BTC // 2 - BTC // 10


def test_no_withdrawal_batch_while_a_sweep_is_signed_but_unsent(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    """Both spend the hot wallet: building a batch over an unsent sweep could spend its coins."""
    from custody.services import withdrawal_batch_create

    t = treasury
    customer = funded_account()
    t.deposit(customer, BTC)
    sweep = sweep_create(amount_sats=BTC // 4)
    assert sweep is not None
    withdrawal = withdrawal_request(
        account=customer, address=t.outside_address(), amount_sats=BTC // 10,
        requested_by=customer.owner, idempotency_key="w-sweep-race",
    )  # fmt: skip
    if withdrawal.status != WithdrawalStatus.APPROVED:
        Withdrawal.objects.filter(pk=withdrawal.pk).update(status=WithdrawalStatus.APPROVED)
    assert withdrawal_batch_create() is None
    assert sweeps_broadcast() == 1
    batch = withdrawal_batch_create()
    assert batch is not None
    assert not set(map(tuple, batch.inputs)) & set(map(tuple, sweep.inputs))
