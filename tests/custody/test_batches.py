"""Paying withdrawals on the real node: batching, ledger legs, crash safety, concurrency."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import AccountKind, Transfer
from accounts.selectors import ledger_check
from accounts.services import system_account
from compliance.models import Case
from custody import tasks
from custody.errors import NodeUnavailable
from custody.hotwallet import lifecycle
from custody.models import BatchStatus, Withdrawal, WithdrawalBatch, WithdrawalStatus
from custody.node import NodeClient
from custody.services import (
    deposit_address_new,
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
    withdrawal_request,
)
from tests.conftest import GuardWindow, run_threads
from tests.custody.conftest import Books, Chain, refresh
from treasury.services import reconcile

pytestmark = pytest.mark.node


def _request(account: Any, address: str, amount_sats: int, key: str) -> Withdrawal:
    return withdrawal_request(
        account=account, address=address, amount_sats=amount_sats,
        requested_by=account.owner, idempotency_key=key,
    )  # fmt: skip


def _run_all(chain: Chain) -> None:
    """What beat does: batch, broadcast, mine a block, confirm."""
    withdrawal_batch_create()
    withdrawal_batch_broadcast()
    chain.mine(1)
    withdrawal_batch_confirm()


def _paid(chain: Chain, address: str) -> list[int]:
    return [amount for _, _, amount in chain.received_outputs(address)]


def test_fifty_withdrawals_one_transaction_and_ledger(
    chain: Chain, funded_account: Any, hot_funded: Any
) -> None:
    hot_funded(100_000_000)
    account = funded_account(10_000_000)
    addresses = [chain.new_funder_address() for _ in range(50)]
    for i, address in enumerate(addresses):
        _request(account, address, 10_000 + i, key=f"w{i}")
    hot = system_account(AccountKind.CUSTODY_HOT, "BTC")
    fees = system_account(AccountKind.FEES, "BTC")
    hot_before, fees_before = hot.posted_minor, fees.posted_minor

    batch = withdrawal_batch_create()
    assert batch is not None
    assert batch.withdrawals.count() == 50
    decoded = chain.client.call("decoderawtransaction", batch.raw_tx)
    assert len(decoded["vout"]) in (50, 51)  # 50 payments (+ change)
    assert withdrawal_batch_create() is None  # nothing left, and one batch is unbroadcast
    assert withdrawal_batch_broadcast() == 1
    assert withdrawal_batch_broadcast() == 0
    chain.mine(1)
    assert withdrawal_batch_confirm() == 1
    assert withdrawal_batch_confirm() == 0

    batch.refresh_from_db()
    assert batch.status == BatchStatus.CONFIRMED
    total = sum(10_000 + i for i in range(50))
    account = refresh(account)
    assert (account.posted_minor, account.held_minor) == (10_000_000 - total - 50_000, 0)
    assert refresh(hot).posted_minor == hot_before + total + batch.fee_sats
    assert refresh(fees).posted_minor == fees_before + 50_000 - batch.fee_sats
    assert Transfer.objects.filter(code="fee", memo__startswith="miner fee").count() == 1
    for i, address in enumerate(addresses):
        assert _paid(chain, address) == [10_000 + i]
    assert ledger_check() == []


@pytest.mark.faults
@pytest.mark.parametrize("point", ["after_sign", "after_commit", "after_broadcast"])
def test_crash_at_any_point_pays_once(
    chain: Chain,
    books: Books,  # this test's own hot wallet, funded by real deposits
    funded_account: Any,
    hot_funded: Any,
    monkeypatch: Any,
    point: str,
) -> None:
    hot_funded(20_000_000)
    account = funded_account(5_000_000)
    addresses = [chain.new_funder_address() for _ in range(3)]
    for i, address in enumerate(addresses):
        _request(account, address, 50_000, key=f"c{i}")

    def crash(name: str) -> None:
        if name == point:
            raise SystemExit(f"crash {name}")

    monkeypatch.setattr(lifecycle, "crash_point", crash)
    with pytest.raises(SystemExit):
        withdrawal_batch_create()
        withdrawal_batch_broadcast()
    monkeypatch.undo()
    locked = {(o["txid"], o["vout"]) for o in chain.hot.call("listlockunspent")}
    if point == "after_sign":
        assert not WithdrawalBatch.objects.exists()
        assert locked  # the dead builder's inputs stay locked (this test's wallet alone)
    for _ in range(2):  # the tasks run again (twice, as a broker may deliver twice)
        _run_all(chain)
    for address in addresses:
        assert _paid(chain, address) == [50_000]
    assert set(Withdrawal.objects.values_list("status", flat=True)) == {"confirmed"}
    assert WithdrawalBatch.objects.count() == 1
    if point != "after_sign":
        spent = {(i[0], i[1]) for i in WithdrawalBatch.objects.get().inputs}
        assert locked <= spent  # only the committed batch's own inputs were held
    books.check()


@override_settings(WITHDRAWAL_MAX_SATS=100 * 100_000_000)
def test_hot_wallet_short_keeps_withdrawals_approved(chain: Chain, funded_account: Any) -> None:
    account = funded_account(60 * 100_000_000)
    address = chain.new_funder_address()
    assert chain.hot.balance_sats() < 50 * 100_000_000
    big = _request(account, address, 50 * 100_000_000, key="big")
    assert big.status == WithdrawalStatus.APPROVED
    assert withdrawal_batch_create() is None
    assert withdrawal_batch_create() is None  # one alert, not one per run
    big.refresh_from_db()
    assert big.status == WithdrawalStatus.APPROVED
    assert refresh(account).held_minor == 50 * 100_000_000 + 1_000
    assert not WithdrawalBatch.objects.exists()
    assert Case.objects.filter(kind="other", summary__startswith="Hot wallet").count() == 1


@pytest.mark.django_db(transaction=True)
def test_hundred_concurrent_requests_no_overdraft(
    chain: Chain, funded_account: Any, hot_funded: Any
) -> None:
    hot_funded(50_000_000)
    account = funded_account(40 * 21_000)  # room for exactly 40 of 20,000 + 1,000 fee
    addresses = [chain.new_funder_address() for _ in range(100)]

    def request(i: int) -> Withdrawal:
        return _request(account, addresses[i], 20_000, key=f"t{i}")

    results = run_threads(100, request)
    accepted = [r for r in results if isinstance(r, Withdrawal)]
    refused = [r for r in results if not isinstance(r, Withdrawal)]
    assert len(accepted) == 40
    assert all(type(r).__name__ == "InsufficientFunds" for r in refused), refused[:3]
    account = refresh(account)
    assert account.posted_minor - account.held_minor == 0

    _run_all(chain)
    _run_all(chain)
    for withdrawal in accepted:
        assert _paid(chain, withdrawal.address) == [20_000]
    assert refresh(account).posted_minor == 0
    assert ledger_check() == []


def _node_fails_once(monkeypatch: pytest.MonkeyPatch, method: str) -> list[str]:
    """Make the node time out on the first ``method`` call (an outage); record the calls."""
    real = NodeClient._call_once
    seen: list[str] = []

    def flaky(self: NodeClient, name: str, params: tuple[Any, ...]) -> Any:
        seen.append(name)
        if name == method and seen.count(method) == 1:
            raise NodeUnavailable(f"bitcoind timed out on {name} (injected)")
        return real(self, name, params)

    monkeypatch.setattr(NodeClient, "_call_once", flaky)
    return seen


@pytest.mark.faults
@pytest.mark.usefixtures("scan_from_tip")
@pytest.mark.parametrize(
    ("method", "credited_by_retry"),
    [
        ("getblock", 1),  # the block path fails before it credits: the retry credits
        ("listsinceblock", 0),  # the block path credited, then the wallet path failed
    ],
)
def test_scan_task_failing_on_a_node_error_runs_again_and_credits(
    chain: Chain,
    books: Books,
    funded_account: Any,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    credited_by_retry: int,
) -> None:
    account = funded_account()
    chain.send(deposit_address_new(account=account).address, 30_000)
    chain.mine(int(settings.DEPOSIT_CONFIRMATIONS))
    seen = _node_fails_once(monkeypatch, method)
    result = tasks.deposit_scan.apply()  # eager: Celery runs the retry inline, no countdown
    assert result.successful(), result.traceback
    assert seen.count(method) >= 2  # failed once, then ran again
    assert result.get()["credited"] == credited_by_retry
    assert refresh(account).posted_minor == 30_000  # credited once, whichever run did it
    books.check()


@pytest.mark.faults
def test_batch_task_failing_on_a_node_error_runs_again_and_pays_once(
    chain: Chain,
    books: Books,
    funded_account: Any,
    hot_funded: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hot_funded(10_000_000)
    account = funded_account(100_000)
    address = chain.new_funder_address()
    withdrawal = _request(account, address, 20_000, key="retry-1")
    _node_fails_once(monkeypatch, "sendrawtransaction")  # signed and committed, then down
    result = tasks.withdrawal_batch.apply()
    assert result.successful(), result.traceback
    chain.mine(1)
    assert withdrawal_batch_confirm() == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.CONFIRMED
    assert _paid(chain, address) == [20_000]
    assert WithdrawalBatch.objects.count() == 1
    books.check()


def test_address_the_node_refuses_fails_alone(
    chain: Chain, funded_account: Any, hot_funded: Any
) -> None:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    good = _request(account, chain.new_funder_address(), 30_000, key="good")
    bad = _request(account, chain.new_funder_address(), 40_000, key="bad")
    # Stands in for an address the local check let through but the node refuses.
    Withdrawal.objects.filter(pk=bad.pk).update(address="bcrt1qnotvalid")
    assert withdrawal_batch_create() is None
    bad.refresh_from_db()
    assert bad.status == WithdrawalStatus.FAILED
    assert refresh(account).held_minor == 31_000  # the bad one's hold is released
    _run_all(chain)
    good.refresh_from_db()
    assert good.status == WithdrawalStatus.CONFIRMED
    assert ledger_check() == []


def _spend_batch_inputs_elsewhere(chain: Chain, batch: WithdrawalBatch) -> str:
    """The hot wallet spends the batch's coins to itself, mined at once; return the txid."""
    from custody.node import btc, sats

    value = 0
    for txid, vout in batch.inputs:
        prev = chain.client.call(
            "decoderawtransaction", chain.hot.call("gettransaction", txid)["hex"]
        )
        value += sats(prev["vout"][vout]["value"])
    inputs = [{"txid": txid, "vout": vout} for txid, vout in batch.inputs]
    outputs = {chain.hot.call("getnewaddress"): btc(value - 20_000)}
    chain.hot.call("lockunspent", True)
    raw = chain.client.call("createrawtransaction", inputs, outputs)
    signed = chain.hot.call("signrawtransactionwithwallet", raw)
    chain.node("generateblock", chain.mine_address, [signed["hex"]])
    return str(chain.client.call("decoderawtransaction", signed["hex"])["txid"])


@pytest.mark.faults
@pytest.mark.parametrize("when", ["after_broadcast", "before_broadcast"])
def test_batch_whose_coins_are_spent_elsewhere_fails_and_releases_holds(
    chain: Chain, books: Books, funded_account: Any, hot_funded: Any, when: str
) -> None:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    withdrawal = _request(account, chain.new_funder_address(), 60_000, key="ds")
    batch = withdrawal_batch_create()
    assert batch is not None
    if when == "after_broadcast":
        assert withdrawal_batch_broadcast() == 1
        spent_txid = _spend_batch_inputs_elsewhere(chain, batch)
        assert withdrawal_batch_confirm() == 0
    else:  # committed, never broadcast, and the coins went elsewhere meanwhile
        spent_txid = _spend_batch_inputs_elsewhere(chain, batch)
        assert withdrawal_batch_broadcast() == 0
    batch.refresh_from_db()
    withdrawal.refresh_from_db()
    assert (batch.status, withdrawal.status) == ("failed", "failed")
    account = refresh(account)
    assert (account.posted_minor, account.held_minor) == (1_000_000, 0)
    assert ledger_check() == []
    assert withdrawal_batch_create() is None  # a failed batch does not block new ones
    # The spend elsewhere (to the hot wallet itself) was made outside the bank:
    # reconciliation names it, and its miner fee is the whole node-ledger difference.
    run = reconcile(trigger="test")
    assert {u["txid"] for u in run.unknown_transactions} == {spent_txid}
    hot = {d["figure"]: d for d in run.differences}["hot"]
    assert hot["difference_sats"] == -20_000


@pytest.mark.django_db(transaction=True)
def test_two_batch_builds_at_once_put_each_withdrawal_in_one_batch(
    chain: Chain,
    own_hot_wallet: str,
    funded_account: Any,
    hot_funded: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    addresses = [chain.new_funder_address() for _ in range(6)]
    for i, address in enumerate(addresses):
        _request(account, address, 20_000, key=f"b{i}")
    # The first builder to sign waits there, its transaction not yet committed, until
    # the other has either signed too or given up. With the builder lock the other is
    # refused at once; without it, it selects the same six withdrawals and signs a second
    # transaction paying them (only the commit's re-check would then stop a double pay).
    window = GuardWindow(2)

    def signed(name: str) -> None:
        if name == "after_sign":
            window.enter()

    monkeypatch.setattr(lifecycle, "crash_point", signed)
    results = run_threads(2, lambda _: window.run(withdrawal_batch_create))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert window.entered == 1  # one builder signed; the other never got past the lock
    built = [r for r in results if r is not None]
    assert len(built) == 1, results  # the refused one returned None, built nothing
    batched = list(Withdrawal.objects.values_list("batch_id", flat=True))
    assert None not in batched and len(batched) == 6
    assert WithdrawalBatch.objects.count() == len(built) == len(set(batched))
    _run_all(chain)
    for address in addresses:
        assert _paid(chain, address) == [20_000]  # each paid once, whichever batch took it
    assert refresh(account).held_minor == 0
    assert ledger_check() == []


@override_settings(WITHDRAWAL_BATCH_MAX=0)
def test_a_batch_limit_of_zero_still_pays_one_withdrawal_a_batch(
    chain: Chain, funded_account: Any, hot_funded: Any
) -> None:
    # A mistyped 0 (or less) must not stop payouts: each batch still takes one.
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    first, second = (
        _request(account, chain.new_funder_address(), 20_000 + i, key=f"z{i}") for i in range(2)
    )
    batch = withdrawal_batch_create()
    assert batch is not None
    assert list(Withdrawal.objects.filter(batch=batch).values_list("pk", flat=True)) == [first.pk]
    second.refresh_from_db()
    assert (second.status, second.batch_id) == (WithdrawalStatus.APPROVED, None)
