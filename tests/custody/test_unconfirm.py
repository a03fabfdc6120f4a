"""A reorg that un-confirms a credited deposit: held at once, released or reversed later.

The deposit's block is invalidated and a longer chain of empty blocks mined, so the
transaction is back in the mempool with 0 confirmations (the node's wallet learns of
it asynchronously: ``syncwithvalidationinterfacequeue`` waits for it, never a sleep).
"""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Account, AccountKind, AccountStatus, Hold, HoldStatus
from accounts.selectors import ledger_check
from accounts.services import system_account, transfer_create
from compliance.models import Case
from custody.models import Deposit, DepositStatus
from custody.services import deposit_address_new, deposit_scan, withdrawal_request
from tests.custody.conftest import Chain, refresh
from tests.custody.test_deposits import _conflicting_tx

pytestmark = [pytest.mark.node, pytest.mark.faults, pytest.mark.usefixtures("scan_from_tip")]


def _credited(
    chain: Chain, account: Account, amount: int, conflicts: list[str] | None = None
) -> tuple[str, list[str]]:
    """Credit a deposit at 3 confirmations; put a double spend of it in ``conflicts``."""
    chain.mine(1)  # what earlier tests left in the mempool: not in the block we invalidate
    address = deposit_address_new(account=account)
    txid = chain.funder.send_to_address(address.address, amount)
    if conflicts is not None:  # signed while its inputs are still unspent
        conflicts.append(_conflicting_tx(chain, txid))
    blocks = chain.mine(3)
    chain.client.call("syncwithvalidationinterfacequeue")
    deposit_scan()
    deposit = Deposit.objects.get(txid=txid)
    assert deposit.status == DepositStatus.CREDITED and deposit.confirmed_at is not None
    return txid, blocks


def _unconfirm(chain: Chain, block: str) -> None:
    """Invalidate ``block`` and mine a longer chain without the deposit (empty blocks)."""
    chain.client.call("invalidateblock", block)
    for _ in range(4):
        chain.client.call("generateblock", chain.mine_address, [])
    chain.client.call("syncwithvalidationinterfacequeue")


def _open_hold(account: Account) -> Hold:
    return Hold.objects.get(account=account, status=HoldStatus.OPEN, code="deposit")


def test_unconfirmed_credit_is_held_with_a_case_then_released(
    chain: Chain, funded_account: Any
) -> None:
    account = funded_account()
    txid, blocks = _credited(chain, account, 200_000)
    _unconfirm(chain, blocks[0])
    report = deposit_scan()
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.status, deposit.confirmations, deposit.unconfirmed) == ("credited", 0, True)
    assert report.held == 1
    account = refresh(account)
    assert (account.posted_minor, account.available_minor) == (200_000, 0)  # never spendable
    assert _open_hold(account).amount_minor == 200_000
    case = Case.objects.get(kind="deposit_reorg", subject_id=str(deposit.pk))
    assert case.findings[0]["rule"] == "deposit_unconfirmed"
    from accounts.errors import InsufficientFunds

    with pytest.raises(InsufficientFunds):  # the customer cannot withdraw it meanwhile
        withdrawal_request(account=account, address=chain.new_funder_address(),
                           amount_sats=100_000, requested_by=account.owner,
                           idempotency_key="unconfirmed-withdrawal")  # fmt: skip
    assert deposit_scan().held == 0  # held once
    assert Hold.objects.filter(account=account, code="deposit").count() == 1
    assert ledger_check() == []

    chain.mine(3)  # the new chain mines it after all
    chain.client.call("syncwithvalidationinterfacequeue")
    assert deposit_scan().released == 1
    deposit.refresh_from_db()
    assert (deposit.status, deposit.unconfirmed) == ("credited", False)
    account = refresh(account)
    assert (account.posted_minor, account.available_minor) == (200_000, 200_000)
    assert Hold.objects.get(account=account, code="deposit").status == HoldStatus.VOIDED
    assert ledger_check() == []
    chain.client.call("reconsiderblock", blocks[0])


def test_unconfirmed_credit_already_spent_freezes_then_double_spend_reverses(
    chain: Chain, funded_account: Any
) -> None:
    account, other = funded_account(), funded_account()
    conflicts: list[str] = []
    txid, blocks = _credited(chain, account, 100_000, conflicts)
    transfer_create(debit_account_id=account.pk, credit_account_id=other.pk,
                    amount_minor=60_000, code="internal", initiator=account.owner)  # fmt: skip
    suspense = system_account(AccountKind.SUSPENSE, "BTC")
    before = suspense.posted_minor
    _unconfirm(chain, blocks[0])
    deposit_scan()
    account = refresh(account)
    assert account.status == AccountStatus.FROZEN
    assert (account.posted_minor, account.available_minor) == (100_000, 0)
    assert refresh(suspense).posted_minor == before - 60_000  # the receivable
    assert ledger_check() == []

    chain.client.call("generateblock", chain.mine_address, conflicts)  # the double spend wins
    chain.client.call("syncwithvalidationinterfacequeue")
    report = deposit_scan()
    assert report.reorged == 1
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.status, deposit.unconfirmed) == ("reorged", False)
    account = refresh(account)
    assert (account.posted_minor, account.held_minor) == (0, 0)  # reversed once, hold gone
    assert refresh(suspense).posted_minor == before - 60_000  # still owed, booked once
    assert refresh(other).posted_minor == 60_000
    assert deposit_scan().reorged == 0
    assert ledger_check() == []
    chain.client.call("reconsiderblock", blocks[0])


def test_reconfirmed_after_spending_reverses_the_receivable(
    chain: Chain, funded_account: Any
) -> None:
    account, other = funded_account(), funded_account()
    txid, blocks = _credited(chain, account, 100_000)
    transfer_create(debit_account_id=account.pk, credit_account_id=other.pk,
                    amount_minor=30_000, code="internal", initiator=account.owner)  # fmt: skip
    suspense = system_account(AccountKind.SUSPENSE, "BTC")
    before = suspense.posted_minor
    _unconfirm(chain, blocks[0])
    deposit_scan()
    assert refresh(suspense).posted_minor == before - 30_000
    chain.mine(3)
    chain.client.call("syncwithvalidationinterfacequeue")
    deposit_scan()
    assert refresh(suspense).posted_minor == before  # the receivable reversed
    account = refresh(account)
    assert (account.posted_minor, account.available_minor) == (70_000, 70_000)
    assert account.status == AccountStatus.FROZEN  # staff unfreeze after the case
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.unconfirmed, deposit.shortfall_transfer_id) == (False, None)
    assert ledger_check() == []
    chain.client.call("reconsiderblock", blocks[0])
