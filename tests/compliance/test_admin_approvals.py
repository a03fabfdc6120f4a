"""Four-eyes requests in the admin: said in words, decided from their page by the right person."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

from accounts.models import Account, User
from compliance.models import ApprovalRequest
from compliance.roles import AUDITOR, COMPLIANCE_OFFICER
from compliance.services import staff_account_freeze, staff_account_unfreeze_propose
from tests.compliance.conftest import otp_client


def test_an_approval_is_described_and_approved_from_its_page(
    staff: Callable[..., User], customer_btc: Callable[..., Account]
) -> None:
    first, second = staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)
    auditor = staff(AUDITOR)
    account = customer_btc()
    staff_account_freeze(actor=first, account_id=account.pk, reason="check")
    proposal = staff_account_unfreeze_propose(actor=first, account_id=account.pk, reason="done")
    page = reverse("admin:compliance_approvalrequest_change", args=[proposal.pk])

    listing = otp_client(second).get(reverse("admin:compliance_approvalrequest_changelist"))
    assert "accounts.account" in listing.content.decode()
    assert 'value="approve"' in listing.content.decode()  # the bulk action, for a decider
    for who in (first, auditor):  # the proposer and a read-only role get no button
        body = otp_client(who).get(page).content.decode()
        assert 'id="approval-summary"' in body and 'id="approve-button"' not in body
    assert (
        'value="approve"'
        not in otp_client(auditor)
        .get(reverse("admin:compliance_approvalrequest_changelist"))
        .content.decode()
    )

    client = otp_client(second)
    body = client.get(page).content.decode()
    assert 'id="approve-button"' in body and 'data-testid="approval-words"' in body
    decide = reverse("admin:compliance_approvalrequest_decide", args=[proposal.pk])
    assert client.post(decide, {"decision": "approve", "reason": "checked"}).status_code == 302
    proposal.refresh_from_db()
    account.refresh_from_db()
    assert proposal.status == "executed" and proposal.approved_by == second
    assert account.status == "active"
    assert ApprovalRequest.objects.count() == 1


def test_amounts_in_the_admin_carry_their_unit(
    staff: Callable[..., User], customer_btc: Callable[..., Account]
) -> None:
    account = customer_btc(49_950_000)
    client = otp_client(staff(COMPLIANCE_OFFICER))
    listing = client.get(reverse("admin:accounts_account_changelist")).content.decode()
    assert "0.49950000 BTC" in listing
    detail = client.get(reverse("admin:accounts_account_change", args=[account.pk]))
    body = detail.content.decode()
    assert "0.49950000 BTC" in body and "49950000<" not in body
    plural = client.get(reverse("admin:index")).content.decode()
    assert "Withdrawal addresses" in plural and "addresss" not in plural


def test_account_controls_are_offered_only_to_roles_that_may_use_them(
    staff: Callable[..., User], customer_btc: Callable[..., Account]
) -> None:
    customer_btc()
    url = reverse("admin:accounts_account_changelist")
    officer_page = otp_client(staff(COMPLIANCE_OFFICER)).get(url).content.decode()
    auditor_page = otp_client(staff(AUDITOR)).get(url).content.decode()
    assert 'value="freeze"' in officer_page
    assert 'value="freeze"' not in auditor_page and 'value="propose_unfreeze"' not in auditor_page
