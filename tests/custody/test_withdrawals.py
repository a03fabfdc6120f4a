"""Withdrawal requests and reviews: validation, holds, idempotency, node down."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command

from accounts.errors import AccountFrozen, InsufficientFunds
from accounts.models import Hold
from accounts.selectors import account_balance
from accounts.services import account_freeze
from compliance.models import Case
from compliance.services import withdrawal_screen
from core.errors import IdempotencyConflict, NotFound, PermissionDenied, ValidationFailed
from custody.errors import AddressInvalid, AmountInvalid, NodeUnavailable, WithdrawalStateError
from custody.models import Withdrawal, WithdrawalStatus
from custody.services import (
    withdrawal_approve,
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
    withdrawal_cancel,
    withdrawal_reject,
    withdrawal_request,
)
from tests.custody.conftest import Books, Chain, refresh, review_at_sats

pytestmark = pytest.mark.node

MAINNET = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
TESTNET = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
REGTEST_BAD_CHECKSUM = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081"


def _request(account: Any, address: str, amount_sats: int, key: str = "k1", **extra: Any) -> Any:
    return withdrawal_request(
        account=account, address=address, amount_sats=amount_sats,
        requested_by=account.owner, idempotency_key=key, **extra,
    )  # fmt: skip


def test_request_holds_amount_and_fee(chain: Chain, funded_account: Any) -> None:
    account = funded_account(1_000_000)
    address = chain.new_funder_address()
    withdrawal = _request(account, address, 100_000)
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert withdrawal.fee_sats == 1_000
    assert account_balance(account=account).available_minor == 1_000_000 - 101_000
    again = _request(account, address, 100_000)  # same key, same request: same withdrawal
    assert again.pk == withdrawal.pk
    assert Hold.objects.filter(account=account).count() == 1


@pytest.mark.parametrize(
    ("address", "amount", "error"),
    [
        (MAINNET, 10_000, AddressInvalid),
        (TESTNET, 10_000, AddressInvalid),
        (REGTEST_BAD_CHECKSUM, 10_000, AddressInvalid),
        ("", 10_000, AddressInvalid),
        (None, 10_000, AddressInvalid),
        ("FUNDER", 545, AmountInvalid),
        ("FUNDER", 0, AmountInvalid),
        ("FUNDER", -5_000, AmountInvalid),
        ("FUNDER", 10 * 100_000_000 + 1, AmountInvalid),
        ("FUNDER", "10000", AmountInvalid),
        ("FUNDER", 900_000, InsufficientFunds),
    ],
)
def test_bad_requests_write_nothing(
    chain: Chain, funded_account: Any, address: Any, amount: Any, error: type[Exception]
) -> None:
    account = funded_account(500_000)
    target = chain.new_funder_address() if address == "FUNDER" else address
    with pytest.raises(error):
        _request(account, target, amount)
    assert Withdrawal.objects.count() == 0
    assert Hold.objects.count() == 0
    assert refresh(account).held_minor == 0


def test_frozen_other_customer_and_key_reuse(
    chain: Chain, funded_account: Any, admin_user: Any
) -> None:
    address = chain.new_funder_address()
    mine = funded_account(500_000)
    theirs = funded_account(500_000)
    with pytest.raises(NotFound):
        withdrawal_request(account=theirs, address=address, amount_sats=10_000,
                           requested_by=mine.owner, idempotency_key="x")  # fmt: skip
    _request(mine, address, 10_000, key="same")
    with pytest.raises(IdempotencyConflict):
        _request(mine, address, 20_000, key="same")
    assert Withdrawal.objects.count() == 1
    account_freeze(account_id=mine.pk, actor=admin_user, reason="test")
    with pytest.raises(AccountFrozen):
        _request(refresh(mine), address, 10_000, key="other")
    with pytest.raises(ValidationFailed):
        _request(theirs, address, 10_000, key="")
    assert Withdrawal.objects.count() == 1


def test_review_approve_reject_cancel(chain: Chain, funded_account: Any, make_user: Any) -> None:
    review_at_sats(100_000)
    account = funded_account(5_000_000)
    address = chain.new_funder_address()
    big = _request(account, address, 200_000, key="big")
    assert big.status == WithdrawalStatus.PENDING_REVIEW
    assert withdrawal_screen(big).decision == "review"
    case = Case.objects.get(kind="withdrawal_review", subject_id=str(big.pk))
    assert case.findings[0]["rule"] == "large_amount"

    clerk = make_user(is_staff=True)
    with pytest.raises(PermissionDenied):
        withdrawal_approve(withdrawal_id=big.pk, actor=clerk, reason="looks fine")
    with pytest.raises(PermissionDenied):  # the customer cannot approve their own
        withdrawal_approve(withdrawal_id=big.pk, actor=account.owner, reason="mine")
    officer = make_user(is_staff=True)
    officer.user_permissions.add(Permission.objects.get(codename="review_withdrawal"))
    # The admin actions go through compliance's review services, which check this too.
    officer.user_permissions.add(Permission.objects.get(codename="review_withdrawal"))
    officer = type(officer).objects.get(pk=officer.pk)
    approved = withdrawal_approve(withdrawal_id=big.pk, actor=officer, reason="known customer")
    assert approved.status == WithdrawalStatus.APPROVED
    assert approved.reviewed_by == officer

    other = _request(account, address, 300_000, key="other")
    rejected = withdrawal_reject(withdrawal_id=other.pk, actor=officer, reason="suspicious")
    assert rejected.status == WithdrawalStatus.REJECTED
    assert Hold.objects.get(pk=other.hold_id).status == "voided"

    small = _request(account, address, 50_000, key="small")
    cancelled = withdrawal_cancel(withdrawal_id=small.pk, actor=account.owner)
    assert cancelled.status == WithdrawalStatus.CANCELLED
    with pytest.raises(WithdrawalStateError):
        withdrawal_cancel(withdrawal_id=small.pk, actor=account.owner)
    assert refresh(account).held_minor == 201_000  # only the approved one is still held


@pytest.mark.faults
def test_node_down_requests_work_tasks_retry(
    chain: Chain, bitcoind: str, books: Books, funded_account: Any, hot_funded: Any
) -> None:
    if settings.BITCOIND_RPC_URL:
        pytest.skip("an external node (BITCOIND_RPC_URL) is not ours to stop")
    hot_funded(50_000_000)
    account = funded_account(1_000_000)
    address = chain.new_funder_address()
    call_command("bitcoind", "stop", "--datadir", bitcoind)
    try:
        withdrawal = _request(account, address, 70_000)
        assert withdrawal.status == WithdrawalStatus.APPROVED
        assert account_balance(account=account).available_minor == 1_000_000 - 71_000
        with pytest.raises(AddressInvalid):  # the local check still refuses mainnet
            _request(account, MAINNET, 70_000, key="k2")
        with pytest.raises(NodeUnavailable):
            withdrawal_batch_create()
        with pytest.raises(NodeUnavailable):
            withdrawal_batch_confirm()
    finally:
        call_command("bitcoind", "start", "--datadir", bitcoind, "--no-blocknotify")
    assert withdrawal_batch_create() is not None
    assert withdrawal_batch_broadcast() == 1
    chain.mine(1)
    assert withdrawal_batch_confirm() == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.CONFIRMED
    assert [amount for _, _, amount in chain.received_outputs(address)] == [70_000]
    books.check()


def test_admin_actions_call_the_services(
    chain: Chain, funded_account: Any, make_user: Any, rf: Any
) -> None:
    review_at_sats(100_000)
    from django.contrib import admin
    from django.contrib.messages.storage.fallback import FallbackStorage

    from custody.models import Deposit, DepositAddress, Wallet, WithdrawalBatch

    for model in (Wallet, DepositAddress, Deposit, Withdrawal, WithdrawalBatch):
        assert model in admin.site._registry
    from custody.admin import WithdrawalAdmin

    model_admin = admin.site._registry[Withdrawal]
    assert isinstance(model_admin, WithdrawalAdmin)
    account = funded_account(1_000_000)
    first = _request(account, chain.new_funder_address(), 200_000, key="a1")
    second = _request(account, chain.new_funder_address(), 200_000, key="a2")
    officer = make_user(is_staff=True)
    officer.user_permissions.add(Permission.objects.get(codename="review_withdrawal"))
    # The admin actions go through compliance's review services, which check this too.
    officer.user_permissions.add(Permission.objects.get(codename="review_withdrawal"))
    officer = type(officer).objects.get(pk=officer.pk)
    request = rf.post("/admin/custody/withdrawal/")
    request.user = officer
    request.session = {}
    request._messages = FallbackStorage(request)
    assert not model_admin.has_change_permission(request, first)
    assert "approve" in model_admin.get_actions(request)
    model_admin.approve(request, Withdrawal.objects.filter(pk=first.pk))
    model_admin.reject(request, Withdrawal.objects.filter(pk=second.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("approved", "rejected")
    request.user = make_user(is_staff=True)  # no permission: no actions offered
    assert "approve" not in model_admin.get_actions(request)
