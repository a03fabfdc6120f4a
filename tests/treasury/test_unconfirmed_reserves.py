"""Reconciliation and proof of reserves count only confirmed deposits (a reorg on the node)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.selectors import ledger_check
from accounts.services import transfer_create
from custody.services import deposit_address_new, deposit_scan
from tests.treasury.conftest import Treasury
from treasury.services import reconcile, reserves_snapshot

pytestmark = [pytest.mark.node, pytest.mark.faults]

AMOUNT = 2_000_000
LATE = 500_000


def test_unconfirmed_credit_is_not_an_asset_until_the_chain_decides(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    first, second = funded_account(), funded_account()
    treasury.deposit(first, AMOUNT)
    address = deposit_address_new(account=second).address
    treasury.funder.send_to_address(address, LATE)
    blocks = treasury.client.call("generatetoaddress", 3, treasury.mine_address)
    treasury.sync()
    deposit_scan()
    transfer_create(debit_account_id=second.pk, credit_account_id=first.pk,
                    amount_minor=300_000, code="internal", initiator=second.owner)  # fmt: skip
    assert reconcile(trigger="test").status == "ok"

    treasury.client.call("invalidateblock", blocks[0])  # the late deposit back to the mempool
    for _ in range(4):
        treasury.client.call("generateblock", treasury.mine_address, [])
    treasury.sync()
    assert deposit_scan().held == 1
    run = reconcile(trigger="test")
    flight, reserve = run.figures["in_flight"], run.figures["reserve"]
    assert flight["deposits_credited_unconfirmed_sats"] == LATE
    assert reserve["on_node_sats"] == AMOUNT + LATE  # the node still shows it (mempool)
    assert reserve["assets_sats"] == AMOUNT  # but it is not counted
    assert reserve["liabilities_sats"] == AMOUNT + 300_000  # the held credit left out
    assert run.status == "mismatch"  # 300 000 already spent: not covered
    assert {d["figure"] for d in run.differences} == {"reserve_ratio"}
    snapshot = reserves_snapshot()
    assert snapshot.assets_total_sats == AMOUNT
    assert ledger_check() == []

    treasury.mine(3)  # mined after all
    deposit_scan()
    run = reconcile(trigger="test")
    assert run.status == "ok", run.differences
    assert run.figures["reserve"]["ratio_bp"] == 10_000
    assert reserves_snapshot().assets_total_sats == AMOUNT + LATE
    assert ledger_check() == []
    treasury.client.call("reconsiderblock", blocks[0])
