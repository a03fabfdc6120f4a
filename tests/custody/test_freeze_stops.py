"""Freezing an account stops its money at every stage before broadcast (insider: one officer
freezes, but nothing may go out anyway; a batch builder or broadcaster must not pay it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.models import AccountStatus, User
from compliance.models import Case
from compliance.roles import COMPLIANCE_OFFICER
from compliance.services import staff_account_freeze
from custody.models import BatchStatus, WithdrawalStatus
from custody.services import (
    withdrawal_batch_broadcast,
    withdrawal_batch_create,
    withdrawal_request,
)
from tests.custody.conftest import Chain, refresh

pytestmark = [pytest.mark.node, pytest.mark.insider]


@pytest.fixture
def officer(make_user: Callable[..., User]) -> User:
    user = make_user(is_staff=True)
    user.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    return User.objects.get(pk=user.pk)


def _approved(chain: Chain, account: Any, key: str) -> Any:
    withdrawal = withdrawal_request(account=account, address=chain.new_funder_address(),
                                    amount_sats=50_000, requested_by=account.owner,
                                    idempotency_key=key)  # fmt: skip
    assert withdrawal.status == WithdrawalStatus.APPROVED
    return withdrawal


def test_freezing_sends_approved_withdrawals_back_to_review(
    chain: Chain, funded_account: Any, hot_funded: Any, officer: User
) -> None:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    withdrawal = _approved(chain, account, "f1")
    staff_account_freeze(actor=officer, account_id=account.pk, reason="fraud report")
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING_REVIEW
    assert Case.objects.filter(subject_id=str(withdrawal.pk), findings__0__rule="account_frozen")
    assert withdrawal_batch_create() is None  # the builder takes nothing
    account = refresh(account)
    assert account.held_minor == 50_000 + withdrawal.fee_sats  # still held, not paid
    assert chain.received_outputs(withdrawal.address) == []
    call_command("ledger_check")


def test_a_signed_unsent_batch_is_held_while_the_account_is_frozen(
    chain: Chain, funded_account: Any, hot_funded: Any, officer: User
) -> None:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    _approved(chain, account, "f2")
    batch = withdrawal_batch_create()
    assert batch is not None and batch.status == BatchStatus.SIGNED
    staff_account_freeze(actor=officer, account_id=account.pk, reason="court order")
    assert withdrawal_batch_broadcast() == 0  # the bytes that would pay it are not sent
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SIGNED
    mempool = chain.client.call("getrawmempool")
    assert batch.txid not in mempool
    assert refresh(account).status == AccountStatus.FROZEN
    call_command("ledger_check")
