"""Issue 12: staff roles change only by four eyes; staff pages offer only allowed actions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts.models import Account, Transfer, User
from accounts.selectors import ledger_check
from audit.models import AuditEvent
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest, ApprovalStatus, Case
from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, CUSTODY_OPERATOR, SUPPORT
from compliance.services import approval_approve, case_open, staff_role_propose
from compliance.services.staff import staff_roles_of
from core.errors import PermissionDenied
from tests.compliance.conftest import otp_client

pytestmark = [pytest.mark.django_db, pytest.mark.insider]


def ledger_state() -> tuple[int, list[tuple[int, int, int]]]:
    accounts = Account.objects.order_by("pk").values_list("pk", "posted_minor", "held_minor")
    return Transfer.objects.count(), list(accounts)


@pytest.fixture
def admins(staff: Callable[..., User]) -> tuple[User, User]:
    return staff(is_superuser=True), staff(is_superuser=True)


def _propose_officer(actor: User, target: User) -> ApprovalRequest:
    return staff_role_propose(actor=actor, user_id=target.pk, is_staff=True, is_superuser=False,
                              groups=[COMPLIANCE_OFFICER], permissions=[],
                              reason="joins compliance")  # fmt: skip


def _choices(client: Client, url: str) -> set[str]:
    form = client.get(url).context["action_form"]
    return {name for name, _ in form.fields["action"].choices} if form is not None else set()


# --- staff roles and group membership -------------------------------------------------


def test_one_superuser_cannot_give_a_role_alone(
    admins: tuple[User, User], staff: Callable[..., User]
) -> None:
    first, second = admins
    target = staff(SUPPORT)
    before, money = staff_roles_of(target), ledger_state()
    proposal = _propose_officer(first, target)
    with pytest.raises(FourEyesViolation, match="different staff member"):
        approval_approve(actor=first, request_id=proposal.pk)
    assert staff_roles_of(User.objects.get(pk=target.pk)) == before

    approval_approve(actor=second, request_id=proposal.pk, reason="agreed")
    after = staff_roles_of(User.objects.get(pk=target.pk))
    assert after["groups"] == [COMPLIANCE_OFFICER] and after["is_staff"]
    assert AuditEvent.objects.filter(action="staff.role_change", actor=second).exists()
    assert ledger_state() == money and ledger_check() == []


def test_no_one_approves_their_own_promotion(admins: tuple[User, User]) -> None:
    first, second = admins
    proposal = staff_role_propose(actor=first, user_id=second.pk, is_staff=True,
                                  is_superuser=True, groups=[AUDITOR], permissions=[],
                                  reason="also audits")  # fmt: skip
    with pytest.raises(FourEyesViolation, match="your own roles"):
        approval_approve(actor=second, request_id=proposal.pk)
    assert staff_roles_of(User.objects.get(pk=second.pk))["groups"] == []


def test_superuser_needs_two_superusers(staff: Callable[..., User]) -> None:
    holder = staff(None)
    holder.user_permissions.add(Permission.objects.get(codename="manage_staff"))
    holder = User.objects.get(pk=holder.pk)
    target = staff(SUPPORT)
    with pytest.raises(PermissionDenied, match="superuser"):
        staff_role_propose(actor=holder, user_id=target.pk, is_staff=True, is_superuser=True,
                           groups=[SUPPORT], permissions=[], reason="x")  # fmt: skip
    officer = staff(COMPLIANCE_OFFICER)
    with pytest.raises(PermissionDenied, match="manage_staff"):
        _propose_officer(officer, target)
    assert not ApprovalRequest.objects.filter(action="staff_role_change").exists()


def test_user_admin_does_not_change_roles_directly(
    admins: tuple[User, User], staff: Callable[..., User]
) -> None:
    first, second = admins
    target = staff(SUPPORT)
    client = otp_client(first)
    money = ledger_state()
    officer_group = Group.objects.get(name=COMPLIANCE_OFFICER)
    url = reverse("admin:accounts_user_change", args=[target.pk])
    response = client.post(url, {"email": target.email, "is_active": "on", "is_staff": "on",
                                 "is_superuser": "on", "groups": [officer_group.pk]})  # fmt: skip
    assert response.status_code == 302
    target = User.objects.get(pk=target.pk)
    assert not target.is_superuser and staff_roles_of(target)["groups"] == [SUPPORT]
    assert "propose-roles" in client.get(url).content.decode()

    roles_url = reverse("admin:accounts_user_propose_roles", args=[target.pk])
    client.post(roles_url, {"is_staff": "on", "groups": [COMPLIANCE_OFFICER], "reason": "move"})
    proposal = ApprovalRequest.objects.get(action="staff_role_change")
    assert proposal.status == ApprovalStatus.PENDING
    assert staff_roles_of(User.objects.get(pk=target.pk))["groups"] == [SUPPORT]
    assert ledger_state() == money and ledger_check() == []
    approval_approve(actor=second, request_id=proposal.pk)
    assert staff_roles_of(User.objects.get(pk=target.pk))["groups"] == [COMPLIANCE_OFFICER]


def test_group_permissions_are_read_only_in_the_admin(admins: tuple[User, User]) -> None:
    client = otp_client(admins[0])
    group = Group.objects.get(name=SUPPORT)
    count = group.permissions.count()
    review = Permission.objects.get(codename="review_withdrawal")
    response = client.post(reverse("admin:auth_group_change", args=[group.pk]),
                           {"name": SUPPORT, "permissions": [review.pk]})  # fmt: skip
    assert response.status_code == 403
    assert group.permissions.count() == count and not group.permissions.filter(pk=review.pk)


# --- staff pages show only what one may do --------------------------------------------


def test_auditor_is_offered_no_freeze(
    staff: Callable[..., User], funded_account: Callable[..., Account]
) -> None:
    account = funded_account(1_000)
    case = case_open(kind="other", subject=account, summary="look", customer=account.owner)
    auditor = otp_client(staff(AUDITOR))
    accounts_url = reverse("admin:accounts_account_changelist")
    cases_url = reverse("admin:compliance_case_changelist")
    assert not _choices(auditor, accounts_url) & {"freeze", "propose_unfreeze"}
    assert not _choices(auditor, cases_url)
    page = auditor.get(reverse("admin:compliance_case_change", args=[case.pk])).content.decode()
    assert "freeze_customer" not in page
    assert not _choices(auditor, reverse("admin:compliance_approvalrequest_changelist"))
    assert not _choices(auditor, reverse("admin:custody_withdrawal_changelist"))
    cold = auditor.get(reverse("admin:treasury_coldmove_changelist")).content.decode()
    assert "Request a cold-to-hot move" not in cold
    sanctions = auditor.get(reverse("admin:compliance_sanctionedaddress_changelist"))
    assert "Import CSV" not in sanctions.content.decode()

    before = ledger_state()
    auditor.post(accounts_url, {"action": "freeze", "_selected_action": [account.pk],
                                "index": 0, "reason": "try"})  # fmt: skip
    assert Account.objects.get(pk=account.pk).status == "active"
    assert ledger_state() == before and ledger_check() == []
    assert Case.objects.get(pk=case.pk).status == "open"


def test_each_role_sees_its_own_actions(staff: Callable[..., User]) -> None:
    officer = otp_client(staff(COMPLIANCE_OFFICER))
    accounts_url = reverse("admin:accounts_account_changelist")
    assert {"freeze", "propose_unfreeze"} <= _choices(officer, accounts_url)
    assert "freeze_customer" in _choices(officer, reverse("admin:compliance_case_changelist"))
    operator = otp_client(staff(CUSTODY_OPERATOR))
    assert _choices(operator, reverse("admin:treasury_coldmove_changelist")) >= {"approve"}
    cold = operator.get(reverse("admin:treasury_coldmove_changelist")).content.decode()
    assert "Request a cold-to-hot move" in cold
    assert not _choices(operator, reverse("admin:custody_withdrawal_changelist"))
    support = otp_client(staff(SUPPORT))
    assert not _choices(support, reverse("admin:merchants_merchant_changelist"))
