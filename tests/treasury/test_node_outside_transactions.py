"""Sweeps and cold moves ask the node with no transaction open (so no row lock held)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from accounts.selectors import ledger_check
from tests.conftest import NodeCalls
from tests.treasury.conftest import Treasury
from treasury.models import ColdMoveStatus, SweepStatus
from treasury.services import (
    cold_move_approve,
    cold_move_psbt_build,
    cold_move_psbt_download,
    cold_move_psbt_submit,
    cold_move_reject,
    cold_move_request,
    cold_moves_confirm,
    cold_signer_sign,
    sweep_create,
    sweeps_broadcast,
    sweeps_confirm,
)

pytestmark = [pytest.mark.node, pytest.mark.django_db(transaction=True)]

BTC = 100_000_000


def _approved(amount_sats: int, staff: Callable[[], Any]) -> Any:
    requester, first, second = staff(), staff(), staff()
    move = cold_move_request(amount_sats=amount_sats, reason="refill", actor=requester)
    cold_move_approve(move_id=move.pk, actor=first)
    cold_move_approve(move_id=move.pk, actor=second)
    return move, first, second


@override_settings(HOT_WALLET_MAX_SATS=BTC // 10, HOT_WALLET_MIN_SATS=0, SWEEP_MIN_SATS=1)
def test_sweeps_and_cold_moves_call_the_node_outside_transactions(
    treasury: Treasury, funded_account: Callable[..., Any],
    custody_staff: Callable[..., Any], node_calls: NodeCalls,
) -> None:  # fmt: skip
    t = treasury
    t.deposit(funded_account(), BTC)
    node_calls.calls.clear()
    sweep = sweep_create(amount_sats=BTC // 2)
    assert sweep is not None
    assert sweeps_broadcast() == 1
    t.mine(1)
    assert sweeps_confirm() == 1
    sweep.refresh_from_db()
    assert sweep.status == SweepStatus.CONFIRMED

    rejected, first, _ = _approved(BTC // 8, custody_staff)
    cold_move_psbt_build(move_id=rejected.pk, actor=first)
    assert t.cold.call("listlockunspent")
    cold_move_reject(move_id=rejected.pk, actor=first, reason="wrong amount")
    assert t.cold.call("listlockunspent") == []  # released after the commit

    move, first, second = _approved(BTC // 8, custody_staff)
    move = cold_move_psbt_build(move_id=move.pk, actor=first)
    signed = cold_signer_sign(psbt=cold_move_psbt_download(move_id=move.pk, actor=first))
    move = cold_move_psbt_submit(move_id=move.pk, psbt=signed, actor=second)
    t.mine(1)
    assert cold_moves_confirm() == 1
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.CONFIRMED

    assert {"walletcreatefundedpsbt", "lockunspent", "sendrawtransaction",
            "gettransaction"} <= set(node_calls.methods())  # fmt: skip
    assert node_calls.inside_transaction() == []
    assert ledger_check() == []
