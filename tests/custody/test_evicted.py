"""A held credit whose transaction left the mempool with no conflict: rebroadcast, then decided.

Eviction is produced on the real node deterministically by mempool expiry: the node's
clock (``setmocktime``) moves past the expiry (336 h by default) and the node accepts one
new transaction, which runs the expiry; the clock is set back at once. (The wallet's own
resubmission cannot race it: it skips transactions received less than five minutes
before the last block.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from accounts.models import HoldStatus
from accounts.selectors import ledger_check
from compliance.models import Case
from custody.models import Deposit, DepositStatus
from custody.node import btc, sats
from custody.services import deposit_scan
from custody.services.evicted import BACK_IN_MEMPOOL, evicted_rebroadcast
from tests.custody.conftest import Chain, refresh
from tests.custody.test_unconfirm import _credited, _open_hold, _unconfirm

# Its own hot wallet: the coins these tests leave never change what others select.
pytestmark = [
    pytest.mark.node,
    pytest.mark.faults,
    pytest.mark.usefixtures("own_hot_wallet", "scan_from_tip"),
]

EXPIRY_PAST_S = 30 * 24 * 3600


def _evict(chain: Chain, txid: str) -> None:
    """Expire the mempool's transactions (``txid`` among them); the clock is set back."""
    coin = next(u for u in chain.funder.call("listunspent", 1) if sats(u["amount"]) > 100_000)
    raw = chain.client.call(
        "createrawtransaction", [{"txid": coin["txid"], "vout": coin["vout"]}],
        {chain.new_funder_address(): btc(sats(coin["amount"]) - 5_000)},
    )  # fmt: skip
    signed = chain.funder.call("signrawtransactionwithwallet", raw)["hex"]
    chain.client.call("setmocktime", int(time.time()) + EXPIRY_PAST_S)
    try:
        chain.client.call("sendrawtransaction", signed)  # its acceptance runs the expiry
    finally:
        chain.client.call("setmocktime", 0)
    chain.sync()
    assert txid not in chain.client.call("getrawmempool")


def _case_findings(deposit: Deposit) -> list[dict[str, Any]]:
    case = Case.objects.get(kind="deposit_reorg", subject_id=str(deposit.pk))
    return list(case.findings)


def test_evicted_credit_is_rebroadcast_held_until_it_confirms(
    chain: Chain, funded_account: Any
) -> None:
    account = funded_account()
    txid, blocks = _credited(chain, account, 150_000)
    _unconfirm(chain, blocks[0])
    assert deposit_scan().held == 1
    _evict(chain, txid)

    report = deposit_scan()
    assert report.rebroadcast == {"back": 1, "lost": 0, "refused": 0}
    assert txid in chain.client.call("getrawmempool")  # sent again from the wallet's copy
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.status, deposit.unconfirmed) == (DepositStatus.CREDITED, True)
    assert deposit.rebroadcast_result == BACK_IN_MEMPOOL
    assert refresh(account).available_minor == 0  # still held
    findings = _case_findings(deposit)
    assert [f["rule"] for f in findings] == ["deposit_unconfirmed", "deposit_evicted"]
    assert findings[-1]["rebroadcast"] == BACK_IN_MEMPOOL
    assert deposit_scan().rebroadcast == {"back": 0, "lost": 0, "refused": 0}  # in the mempool
    assert len(_case_findings(deposit)) == 2

    chain.mine(3)
    assert deposit_scan().released == 1
    account = refresh(account)
    assert (account.posted_minor, account.available_minor) == (150_000, 150_000)
    assert ledger_check() == []
    chain.client.call("reconsiderblock", blocks[0])


def test_evicted_credit_whose_inputs_are_spent_is_reversed(
    chain: Chain, funded_account: Any
) -> None:
    account = funded_account()
    conflicts: list[str] = []
    txid, blocks = _credited(chain, account, 100_000, conflicts)
    _unconfirm(chain, blocks[0])
    deposit_scan()
    hold = _open_hold(account)
    _evict(chain, txid)
    chain.node("generateblock", chain.mine_address, conflicts)  # its inputs spent elsewhere

    # The rebroadcast itself learns it (the node refuses: inputs missing or spent).
    assert evicted_rebroadcast(wallet=chain.hot) == {"back": 0, "lost": 1, "refused": 0}
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.status, deposit.unconfirmed, deposit.reversals) == ("reorged", False, 1)
    account = refresh(account)
    assert (account.posted_minor, account.held_minor) == (0, 0)  # reversed, hold voided
    hold.refresh_from_db()
    assert hold.status == HoldStatus.VOIDED
    assert deposit_scan().reorged == 0  # the scan's double-spend path finds it done
    assert refresh(account).posted_minor == 0
    assert ledger_check() == []
    chain.client.call("reconsiderblock", blocks[0])
