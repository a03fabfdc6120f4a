"""Cold-move and sweep failure paths: reject, a crash before the send, the node's verdicts,
and a conflicted move or sweep reversed in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import AccountKind, Transfer
from accounts.selectors import ledger_check
from tests.treasury.conftest import Treasury
from tests.treasury.test_cold_moves import BTC, _earn_fees, _ledger, _signed_move, _tampered
from treasury.errors import ColdMoveState
from treasury.models import ColdMove, ColdMoveStatus, SweepStatus
from treasury.services import (
    cold_move_approve,
    cold_move_psbt_build,
    cold_move_psbt_submit,
    cold_move_reject,
    cold_move_request,
    cold_moves_broadcast,
    cold_moves_confirm,
    sweep_create,
    sweeps_broadcast,
    sweeps_confirm,
)
from treasury.services import moves as moves_module

pytestmark = [pytest.mark.node, pytest.mark.faults]


def _ready_move(t: Treasury, staff: Callable[..., Any]) -> tuple[ColdMove, Any, Any]:
    """A move of 0.25 BTC from a funded cold wallet, built and waiting for its signature."""
    t.funder.send_to_address(str(t.cold.call("getnewaddress", "", "bech32")), BTC)
    t.mine(1)
    requester, first, second = staff(), staff(), staff()
    move = cold_move_request(amount_sats=BTC // 4, reason="refill", actor=requester)
    cold_move_approve(move_id=move.pk, actor=first)
    cold_move_approve(move_id=move.pk, actor=second)
    return cold_move_psbt_build(move_id=move.pk, actor=first), first, second


def _booked(move: ColdMove) -> list[str]:
    return sorted(
        Transfer.objects.filter(memo__contains=str(move.txid)).values_list("code", flat=True)
    )


def test_rejected_move_releases_its_coins_and_cannot_go_on(
    treasury: Treasury, custody_staff: Callable[..., Any]
) -> None:
    t = treasury
    move, first, second = _ready_move(t, custody_staff)
    assert t.cold.call("listlockunspent")  # the built PSBT reserved its inputs
    psbt = _signed_move(t, move, first)
    move = cold_move_reject(move_id=move.pk, actor=second, reason="not needed after all")
    assert move.status == ColdMoveStatus.REJECTED
    assert t.cold.call("listlockunspent") == []  # released for the next move
    with pytest.raises(ColdMoveState):
        cold_move_psbt_submit(move_id=move.pk, psbt=psbt, actor=second)
    with pytest.raises(ColdMoveState):
        cold_move_reject(move_id=move.pk, actor=second, reason="twice")
    assert Transfer.objects.count() == 0 and ledger_check() == []


def test_signed_move_left_unsent_by_a_crash_is_sent_by_the_retry(
    treasury: Treasury, custody_staff: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = treasury
    move, first, second = _ready_move(t, custody_staff)
    psbt = _signed_move(t, move, first)

    def crash(**_: Any) -> bool:
        raise SystemExit("worker killed after the commit, before the send")

    with monkeypatch.context() as patch:
        patch.setattr(moves_module, "cold_move_broadcast", crash)
        with pytest.raises(SystemExit):
            cold_move_psbt_submit(move_id=move.pk, psbt=psbt, actor=second)
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.SIGNED and move.raw_tx  # committed before the send
    assert _ledger(AccountKind.IN_TRANSIT) == 0
    assert cold_moves_broadcast() == 1  # the periodic retry sends the same bytes
    assert cold_moves_broadcast() == 0
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.BROADCAST
    assert _ledger(AccountKind.IN_TRANSIT) == move.amount_sats  # booked once
    t.mine(1)
    assert cold_moves_confirm() == 1
    assert ledger_check() == []


def test_move_sent_before_the_crash_is_booked_once_known_to_the_node(
    treasury: Treasury, custody_staff: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = treasury
    move, first, second = _ready_move(t, custody_staff)
    psbt = _signed_move(t, move, first)
    with monkeypatch.context() as patch:
        patch.setattr(moves_module, "cold_move_broadcast", lambda **_: False)
        cold_move_psbt_submit(move_id=move.pk, psbt=psbt, actor=second)
    move.refresh_from_db()
    t.client.call("sendrawtransaction", move.raw_tx)  # it did go out before the worker died
    t.mine(2)  # and was mined, then spent on: the node refuses the bytes now
    assert cold_moves_broadcast() == 1  # verdict "known": book it
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.BROADCAST
    assert _ledger(AccountKind.IN_TRANSIT) == move.amount_sats
    assert cold_moves_confirm() == 1
    assert ledger_check() == []


@override_settings(COLD_FEE_MAX_SATS=50_000)
def test_move_whose_coins_were_spent_elsewhere_fails_unbooked(
    treasury: Treasury, custody_staff: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = treasury
    move, first, second = _ready_move(t, custody_staff)
    psbt = _signed_move(t, move, first)
    with monkeypatch.context() as patch:
        patch.setattr(moves_module, "cold_move_broadcast", lambda **_: False)
        cold_move_psbt_submit(move_id=move.pk, psbt=psbt, actor=second)
    move.refresh_from_db()
    total_in = sum(amount for _, _, amount in move.inputs)
    other = _tampered(t, move, [{t.outside_address(): f"{(total_in - 20_000) / BTC:.8f}"}])
    t.client.call("sendrawtransaction", t.client.call("finalizepsbt", other)["hex"])
    t.mine(1)
    assert cold_moves_broadcast() == 0  # verdict "lost": the move can never confirm
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.FAILED and "spent elsewhere" in move.last_error
    assert _ledger(AccountKind.IN_TRANSIT) == 0 and _booked(move) == []
    assert ledger_check() == []


def test_conflicted_move_is_reversed(treasury: Treasury, custody_staff: Callable[..., Any]) -> None:
    t = treasury
    move, first, second = _ready_move(t, custody_staff)
    move = cold_move_psbt_submit(move_id=move.pk, psbt=_signed_move(t, move, first), actor=second)
    assert move.status == ColdMoveStatus.BROADCAST
    assert _ledger(AccountKind.IN_TRANSIT) == move.amount_sats
    t.sync()
    total_in = sum(amount for _, _, amount in move.inputs)
    other = _tampered(t, move, [{t.outside_address(): f"{(total_in - 20_000) / BTC:.8f}"}])
    t.client.call("generateblock", t.mine_address, [t.client.call("finalizepsbt", other)["hex"]])
    t.sync()  # the double spend is mined: the move's transaction is conflicted
    assert cold_moves_confirm() == 0
    move.refresh_from_db()
    assert (move.status, move.last_error) == (ColdMoveStatus.FAILED, "transaction conflicted")
    assert _ledger(AccountKind.IN_TRANSIT) == 0  # the transit and fee legs are reversed
    assert Transfer.objects.filter(code="reversal").count() == (2 if move.fee_sats else 1)
    assert ledger_check() == []


@override_settings(HOT_WALLET_MAX_SATS=BTC // 10, HOT_WALLET_MIN_SATS=0, SWEEP_MIN_SATS=1)
def test_conflicted_sweep_is_reversed(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    t = treasury
    customer = funded_account()
    t.deposit(customer, BTC)
    _earn_fees(customer)
    sweep = sweep_create(amount_sats=BTC // 2)
    assert sweep is not None and sweeps_broadcast() == 1
    hot_before = _ledger(AccountKind.CUSTODY_HOT)
    assert _ledger(AccountKind.IN_TRANSIT) == BTC // 2
    t.sync()
    inputs = [{"txid": i[0], "vout": i[1]} for i in sweep.inputs]
    # The same coins to an outside address (the rest a miner fee): a double spend.
    raw = t.client.call("createrawtransaction", inputs, {t.outside_address(): "0.10000000"})
    funded = t.hot.call("signrawtransactionwithwallet", raw)
    assert funded["complete"]
    t.client.call("generateblock", t.mine_address, [funded["hex"]])
    t.sync()
    assert sweeps_confirm() == 0
    sweep.refresh_from_db()
    assert sweep.status == SweepStatus.FAILED and sweep.last_error == "transaction conflicted"
    assert _ledger(AccountKind.IN_TRANSIT) == 0  # reversed: back on the hot account
    assert _ledger(AccountKind.CUSTODY_HOT) > hot_before
    assert ledger_check() == []
