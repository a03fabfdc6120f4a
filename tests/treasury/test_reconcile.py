"""Reconciliation on the real node: it reports ok when all agrees and names what differs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import AccountKind
from accounts.services import system_account, transfer_create
from tests.treasury.conftest import Treasury
from treasury.models import ReconciliationRun
from treasury.selectors import reconciliation_latest
from treasury.services import reconcile

pytestmark = pytest.mark.node

AMOUNT = 50_000_000


def _figures(run: ReconciliationRun) -> dict[str, dict[str, Any]]:
    return {str(d["figure"]): d for d in run.differences}


def test_ok_when_everything_matches(treasury: Treasury, funded_account: Callable[..., Any]) -> None:
    customer = funded_account()
    treasury.deposit(customer, AMOUNT)
    run = reconcile(trigger="test")
    assert (run.status, run.differences, run.unknown_transactions) == ("ok", [], [])
    assert run.figures["hot"]["node_confirmed_sats"] == AMOUNT
    assert run.figures["hot"]["ledger_sats"] == AMOUNT
    reserve = run.figures["reserve"]
    assert (reserve["liabilities_sats"], reserve["assets_sats"], reserve["ratio_bp"]) == (
        AMOUNT, AMOUNT, 10_000)  # fmt: skip
    assert reserve["counts"].startswith("confirmed only")
    assert run.case is None
    assert reconciliation_latest() == run
    call_command("reconcile")  # the command runs the same service; exit 0 when ok
    assert ReconciliationRun.objects.count() == 2


def test_detects_coins_sent_from_the_hot_wallet_outside_the_bank(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    treasury.deposit(funded_account(), AMOUNT)
    assert reconcile(trigger="test").status == "ok"
    txid = treasury.hot.send_to_address(treasury.outside_address(), 1_000_000)
    treasury.sync()

    run = reconcile(trigger="test")
    assert run.status == "mismatch"
    diffs = _figures(run)
    assert diffs["hot"]["difference_sats"] < -1_000_000  # the payment and its miner fee
    assert diffs["reserve_ratio"]["ratio_bp"] < 10_000
    assert [(u["txid"], u["category"], u["wallet"]) for u in run.unknown_transactions] == [
        (txid, "send", treasury.hot_name)
    ]
    assert diffs["unknown_transactions"]["txids"] == [txid]
    assert run.case is not None
    case = run.case
    assert case.kind == "reconciliation" and "hot" in case.summary
    with pytest.raises(CommandError):
        call_command("reconcile")
    latest = reconciliation_latest()
    assert latest is not None and latest.case_id == case.pk  # the same case, not a new one


def test_detects_a_ledger_transfer_without_chain_counterpart(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    customer = funded_account()
    treasury.deposit(customer, AMOUNT)
    hot = system_account(AccountKind.CUSTODY_HOT, "BTC")
    ghost = transfer_create(debit_account_id=hot.pk, credit_account_id=customer.pk,
                            amount_minor=70_000, code="deposit", memo="no such deposit")  # fmt: skip

    run = reconcile(trigger="test")
    diffs = _figures(run)
    assert run.status == "mismatch"
    assert diffs["hot"]["difference_sats"] == -70_000
    assert diffs["reserve_ratio"]["liabilities_sats"] == AMOUNT + 70_000
    listed = diffs["ledger_transfers_without_chain_record"]["transfers"]
    assert [t["transfer_id"] for t in listed] == [ghost.pk]
    assert run.unknown_transactions == []


def test_detects_a_deposit_the_scanner_missed(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    customer = funded_account()
    treasury.deposit(customer, AMOUNT)
    missed = treasury.deposit(customer, 30_000, scan=False)

    run = reconcile(trigger="test")
    diffs = _figures(run)
    assert run.status == "mismatch"
    assert diffs["hot"]["difference_sats"] == 30_000
    assert [(u["txid"], u["category"], u["amount_sats"]) for u in run.unknown_transactions] == [
        (missed, "receive", 30_000)
    ]
    assert "ledger_transfers_without_chain_record" not in diffs
