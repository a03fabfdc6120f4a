"""Ledger corrections need two people: one proposes, a different one approves and it posts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command

from accounts.models import Account, Transfer, TransferCode, User
from accounts.services import system_account
from compliance.errors import FourEyesViolation
from compliance.roles import AUDITOR, COMPLIANCE_OFFICER
from compliance.services import approval_approve
from compliance.services.corrections import ledger_adjustment_propose, ledger_reversal_propose
from core.errors import PermissionDenied
from tests.compliance.conftest import otp_client

pytestmark = pytest.mark.django_db


def _balances(*accounts: Account) -> list[int]:
    return [Account.objects.get(pk=a.pk).posted_minor for a in accounts]


def test_adjustment_posts_only_after_a_second_officer_approves(
    staff: Callable[..., User], funded_account: Callable[..., Account]
) -> None:
    first, second = staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)
    customer = funded_account(5_000)
    suspense = system_account(kind="suspense", currency="BTC")
    before = _balances(customer, suspense)
    proposal = ledger_adjustment_propose(
        actor=first, debit_account_id=suspense.pk, credit_account_id=customer.pk,
        amount_minor=1_234, reason="deposit booked to suspense by mistake",
    )  # fmt: skip
    assert _balances(customer, suspense) == before  # nothing moved on the proposal
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    assert _balances(customer, suspense) == before
    approval_approve(actor=second, request_id=proposal.pk, reason="checked the chain")
    assert _balances(customer, suspense) == [before[0] + 1_234, before[1] - 1_234]
    posted = Transfer.objects.get(code=TransferCode.ADJUSTMENT, credit_account=customer)
    assert posted.initiator_id == second.pk
    call_command("ledger_check")


def test_reversal_needs_two_and_the_permission(
    staff: Callable[..., User], funded_account: Callable[..., Account]
) -> None:
    first, second = staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)
    auditor = staff(AUDITOR)
    customer = funded_account(7_000)
    original = Transfer.objects.filter(credit_account=customer).latest("pk")
    with pytest.raises(PermissionDenied):
        ledger_reversal_propose(actor=auditor, transfer_id=original.pk, reason="looks wrong")
    proposal = ledger_reversal_propose(actor=first, transfer_id=original.pk, reason="duplicate")
    with pytest.raises(PermissionDenied):
        approval_approve(actor=auditor, request_id=proposal.pk)
    assert _balances(customer) == [7_000]
    approval_approve(actor=second, request_id=proposal.pk)
    assert _balances(customer) == [0]
    assert Transfer.objects.filter(reverses=original).count() == 1
    call_command("ledger_check")


def test_admin_offers_the_adjustment_form(staff: Callable[..., User]) -> None:
    client = otp_client(staff(COMPLIANCE_OFFICER))
    page = client.get("/admin/accounts/transfer/propose-adjustment/")
    assert page.status_code == 200
    assert b"Propose a ledger adjustment" in page.content
