"""The deposit scan's block path on the real regtest node: agrees with the wallet, credits once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import Transfer
from accounts.selectors import ledger_check
from custody.errors import WalletNotFound
from custody.models import Deposit, DepositStatus
from custody.node import NodeClient
from custody.services import deposit_address_new, deposit_scan, deposits
from custody.services.deposit_blocks import block_cursor_get, block_cursor_set, block_outputs
from tests.custody.conftest import Chain, refresh

pytestmark = [pytest.mark.node, pytest.mark.usefixtures("scan_from_tip")]


def test_block_path_reports_what_the_wallet_reports(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    first, second = (deposit_address_new(account=account).address for _ in range(2))
    cursor = chain.tip()
    txid = chain.funder.send_many(
        {first: 30_000, second: 40_000, chain.new_funder_address(): 9_000}
    )
    # Mined to a bank address: the wallet does not report a coinbase as received, nor may we.
    chain.client.call("generatetoaddress", 1, first)
    chain.mine(1)

    read = block_outputs(chain.client, 1)
    found, last = read.outputs, read.last
    assert last == chain.tip()
    assert {(k[0], out.address) for k, out in found.items()} == {(txid, first), (txid, second)}
    reply = chain.hot.call("listsinceblock", cursor, 1, True, True)
    wallet = deposits._outputs(reply["transactions"])
    assert {key: wallet[key] for key in found} == found  # same amount, block, confirmations


def test_block_path_credits_before_asking_the_wallet(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    address = deposit_address_new(account=account).address
    txid = chain.send(address, 120_000)
    chain.mine(1)
    with override_settings(DEPOSIT_CONFIRMATIONS=1):
        # A wallet that is not there: every wallet RPC fails, so what is credited came
        # from the block path alone, committed before the wallet path began.
        with pytest.raises(WalletNotFound):
            deposit_scan(client=chain.client.wallet("no-such-wallet"))
        deposit = Deposit.objects.get(txid=txid)
        assert (deposit.status, deposit.confirmations) == (DepositStatus.CREDITED, 1)
        assert block_cursor_get() == chain.tip()

        report = deposit_scan()  # the wallet path sees the same output: nothing twice
    assert (report.recorded, report.credited) == (0, 0)
    key = f"deposit:{txid}:{deposit.vout}"
    assert Transfer.objects.filter(idempotency_key=key).count() == 1
    assert refresh(account).posted_minor == 120_000
    assert ledger_check() == []


def test_block_cursor_left_by_a_reorg_reads_from_the_fork(
    chain: Chain, funded_account: Any
) -> None:
    address = deposit_address_new(account=funded_account()).address
    txid = chain.send(address, 50_000)
    stale = chain.mine(1)[0]
    block_cursor_set(stale)
    chain.node("invalidateblock", stale)  # the deposit goes back to the mempool
    # Mined again in another block (another coinbase address: the same template would
    # give the same, now invalid, block).
    chain.node("generatetoaddress", 2, chain.new_funder_address())

    read = block_outputs(chain.client, 1)
    found, last = read.outputs, read.last
    assert last == chain.tip()
    [out] = found.values()
    assert (out.txid, out.confirmations) == (txid, 2)
    assert out.block_hash not in (stale, chain.tip())
    chain.node("reconsiderblock", stale)  # leave the node's chain valid


def _deposit_reads(queries: CaptureQueriesContext) -> int:
    """Reads of recorded deposits by txid (``_record``'s look-up of known rows)."""
    return sum(
        1 for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "custody_deposit"' in q["sql"]
        and '"custody_deposit"."txid" IN' in q["sql"]
    )  # fmt: skip


def test_wallet_path_skips_what_the_block_path_recorded(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    address = deposit_address_new(account=account).address
    txid = chain.send(address, 80_000)
    chain.mine(1)
    with override_settings(DEPOSIT_CONFIRMATIONS=1), CaptureQueriesContext(connection) as queries:
        report = deposit_scan()
    assert (report.recorded, report.credited) == (1, 1)
    # The block path looked its outputs up once; the wallet path, reporting the same
    # output at the same block and confirmations, did not read it again.
    assert _deposit_reads(queries) == 1
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.status, deposit.confirmations) == (DepositStatus.CREDITED, 1)
    assert refresh(account).posted_minor == 80_000


def test_wallet_path_records_what_moved_after_the_block_path(
    chain: Chain, funded_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block mined between the two paths: the wallet path's newer count is recorded."""
    account = funded_account()
    address = deposit_address_new(account=account).address
    txid = chain.send(address, 90_000)
    chain.mine(1)
    real = NodeClient.call
    mined: list[str] = []

    def call(client: NodeClient, method: str, *params: Any) -> Any:
        if method == "listsinceblock" and not mined:
            mined.extend(chain.mine(1))  # the real node moves on under the scan
        return real(client, method, *params)

    monkeypatch.setattr(NodeClient, "call", call)
    with override_settings(DEPOSIT_CONFIRMATIONS=1):
        report = deposit_scan()
    assert mined and report.credited == 1
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.status, deposit.confirmations) == (DepositStatus.CREDITED, 2)
    assert deposit.block_hash == chain.block_of(txid)
    key = f"deposit:{txid}:{deposit.vout}"
    assert Transfer.objects.filter(idempotency_key=key).count() == 1
    assert refresh(account).posted_minor == 90_000
    assert ledger_check() == []
