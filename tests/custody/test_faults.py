"""Services fail mid-work and recover: nothing lost, nothing paid twice, the ledger holds.

The node is the real regtest node; a fault is injected into the one client module by
making it refuse from the k-th call on (the node "goes down" mid-work), then it comes back.
The database fault drops the connection itself from another session mid-transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from accounts.models import Transfer
from custody.errors import NodeUnavailable
from custody.models import BatchStatus, Deposit, Withdrawal, WithdrawalStatus
from custody.node import NodeClient
from custody.services import (
    deposit_address_new,
    deposit_scan,
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
    withdrawal_request,
)
from tests.custody.conftest import Books, Chain, refresh

pytestmark = [pytest.mark.node, pytest.mark.faults]


class NodeOutage:
    """Make the real client refuse every call from the ``after``-th one on, until ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.after: int | None = None
        real = NodeClient.call

        def call(client: NodeClient, method: str, *params: Any) -> Any:
            self.calls += 1
            if self.after is not None and self.calls >= self.after:
                raise NodeUnavailable("injected: the node is down")
            return real(client, method, *params)

        monkeypatch.setattr(NodeClient, "call", call)

    def start(self, after_calls: int = 1) -> None:
        self.calls, self.after = 0, after_calls

    def end(self) -> None:
        self.after = None


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Iterator[NodeOutage]:
    made = NodeOutage(monkeypatch)
    yield made
    made.end()


@pytest.mark.parametrize("fail_at", [1, 2, 4, 6])
def test_node_down_during_a_batch_pays_once(
    chain: Chain,
    books: Books,
    funded_account: Any,
    hot_funded: Any,
    outage: NodeOutage,
    fail_at: int,
) -> None:
    hot_funded(5_000_000)
    account = funded_account(1_000_000)
    address = chain.new_funder_address()
    withdrawal_request(account=account, address=address, amount_sats=70_000,
                       requested_by=account.owner, idempotency_key="outage")  # fmt: skip
    outage.start(after_calls=fail_at)
    with pytest.raises(NodeUnavailable):  # the task's retry policy takes it from here
        withdrawal_batch_create()
        withdrawal_batch_broadcast()
    outage.end()
    for _ in range(2):  # what beat does after the node is back (twice: a retry repeats)
        withdrawal_batch_create()
        withdrawal_batch_broadcast()
    chain.mine(1)
    withdrawal_batch_confirm()
    paid = [amount for _, _, amount in chain.received_outputs(address)]
    assert paid == [70_000]  # once
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.status == WithdrawalStatus.CONFIRMED
    assert withdrawal.batch is not None and withdrawal.batch.status == BatchStatus.CONFIRMED
    assert refresh(account).held_minor == 0
    books.check()


def test_node_down_during_a_scan_credits_once(
    chain: Chain, books: Books, funded_account: Any, outage: NodeOutage
) -> None:
    account = funded_account()
    address = deposit_address_new(account=account).address
    chain.funder.send_to_address(address, 120_000)
    chain.sync()
    deposit_scan()  # seen in the mempool: recorded, not credited
    chain.mine(3)
    outage.start(after_calls=1)  # down when the confirmations would credit it
    with pytest.raises(NodeUnavailable):
        deposit_scan()
    outage.end()
    deposit_scan()
    deposit_scan()  # a repeated delivery of the task changes nothing
    assert Deposit.objects.filter(deposit_address__address=address).count() == 1
    credits = Transfer.objects.filter(credit_account=account, code="deposit")
    assert [t.amount_minor for t in credits] == [120_000]
    books.check()


@pytest.mark.django_db(transaction=True)
def test_database_connection_dropped_mid_movement_leaves_nothing_half_written(
    chain: Chain,
    books: Books,
    funded_account: Any,
    hot_funded: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connection dies between the withdrawal row and its hold: all or nothing."""
    import custody.services.withdrawals as withdrawals

    account = funded_account(500_000)
    real_hold = withdrawals.hold_create
    killed: list[int] = []

    def hold_then_die(**kwargs: Any) -> Any:
        if not killed:
            pid = connection.connection.info.backend_pid
            dsn = connection.connection.info.dsn
            with psycopg.connect(dsn, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
            killed.append(pid)
        return real_hold(**kwargs)

    monkeypatch.setattr(withdrawals, "hold_create", hold_then_die)
    address = chain.new_funder_address()
    with pytest.raises(OperationalError):
        withdrawal_request(account=account, address=address, amount_sats=60_000,
                           requested_by=account.owner, idempotency_key="dropped")  # fmt: skip
    connection.close()  # the next query opens a fresh connection, as a worker would
    assert not Withdrawal.objects.filter(idempotency_key="dropped").exists()
    assert refresh(account).held_minor == 0
    # The client retries with the same key: exactly one withdrawal, one hold.
    again = withdrawal_request(account=account, address=address, amount_sats=60_000,
                               requested_by=account.owner, idempotency_key="dropped")  # fmt: skip
    assert Withdrawal.objects.filter(idempotency_key="dropped").count() == 1
    assert refresh(account).held_minor == again.amount_sats + again.fee_sats
    with transaction.atomic():
        books.check()


def test_one_batch_the_node_refuses_does_not_block_the_others(
    chain: Chain, books: Books, funded_account: Any, hot_funded: Any
) -> None:
    from custody.models import WithdrawalBatch

    stray = WithdrawalBatch.objects.create(  # first in line; the wallet never heard of it
        txid="ab" * 32, raw_tx="00", status=BatchStatus.BROADCAST, fee_sats=0,
        fee_rate_sat_vb=1, vsize=1,
    )  # fmt: skip
    hot_funded(5_000_000)
    account = funded_account(1_000_000)
    withdrawal_request(account=account, address=chain.new_funder_address(), amount_sats=40_000,
                       requested_by=account.owner, idempotency_key="behind")  # fmt: skip
    withdrawal_batch_create()
    withdrawal_batch_broadcast()
    chain.mine(1)
    assert withdrawal_batch_confirm() == 1  # the real batch, despite the refused one before it
    stray.refresh_from_db()
    assert stray.status == BatchStatus.BROADCAST and "gettransaction" in stray.last_error
    assert Withdrawal.objects.get().status == WithdrawalStatus.CONFIRMED
    books.check()
