"""The hot-wallet rules on the real node: no node call under a lock, one builder at a time."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from accounts.selectors import ledger_check
from custody.hotwallet import lifecycle
from custody.hotwallet.builder import hot_builder_lock
from custody.models import WithdrawalBatch, WithdrawalStatus
from custody.services import (
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
    withdrawal_cancel,
    withdrawal_request,
)
from tests.conftest import NodeCalls, run_threads
from tests.custody.conftest import Chain, refresh

pytestmark = pytest.mark.node


def _request(account: Any, address: str, amount_sats: int, key: str) -> Any:
    return withdrawal_request(
        account=account, address=address, amount_sats=amount_sats,
        requested_by=account.owner, idempotency_key=key,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_recorder_sees_a_node_call_inside_a_transaction(
    chain: Chain, node_calls: NodeCalls
) -> None:
    with transaction.atomic():
        chain.client.call("getblockcount")
    chain.client.call("getblockcount")
    assert node_calls.calls == [("getblockcount", True), ("getblockcount", False)]


@pytest.mark.django_db(transaction=True)
def test_withdrawal_and_its_batch_call_the_node_outside_transactions(
    chain: Chain, funded_account: Any, hot_funded: Any, node_calls: NodeCalls
) -> None:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    address = chain.new_funder_address()
    node_calls.calls.clear()
    withdrawal = _request(account, address, 40_000, key="outside")
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert withdrawal_batch_create() is not None
    assert withdrawal_batch_broadcast() == 1
    chain.mine(1)
    assert withdrawal_batch_confirm() == 1
    methods = set(node_calls.methods())
    assert {"validateaddress", "listlockunspent", "estimatesmartfee", "walletcreatefundedpsbt",
            "walletprocesspsbt", "sendrawtransaction", "gettransaction"} <= methods  # fmt: skip
    assert node_calls.inside_transaction() == []
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.CONFIRMED
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_one_builder_at_a_time(chain: Chain, funded_account: Any, hot_funded: Any) -> None:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    _request(account, chain.new_funder_address(), 40_000, key="one")
    with hot_builder_lock() as wallet:
        assert wallet is not None
        # Another worker (its own connection) finds the lock taken and builds nothing.
        assert run_threads(1, lambda _: withdrawal_batch_create()) == [None]
        assert not WithdrawalBatch.objects.exists()
    assert withdrawal_batch_create() is not None


def test_a_withdrawal_cancelled_during_the_build_discards_the_batch(
    chain: Chain, own_hot_wallet: str, funded_account: Any, hot_funded: Any, monkeypatch: Any
) -> None:
    # Its own hot wallet: the lock assertion below must see this build's locks only.
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    withdrawal = _request(account, chain.new_funder_address(), 40_000, key="gone")

    def cancel_meanwhile(name: str) -> None:
        if name == "after_sign":  # the customer cancels while the node signs
            withdrawal_cancel(withdrawal_id=withdrawal.pk, actor=account.owner)

    monkeypatch.setattr(lifecycle, "crash_point", cancel_meanwhile)
    assert withdrawal_batch_create() is None
    assert not WithdrawalBatch.objects.exists()
    assert chain.hot.call("listlockunspent") == []  # the discarded build's coins are free
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.CANCELLED
    assert refresh(account).held_minor == 0
    assert ledger_check() == []
