"""Four eyes and permissions are enforced in the services, whatever the door."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import Account, User
from accounts.services import account_freeze
from audit.models import AuditEvent
from compliance.errors import FourEyesViolation
from compliance.models import (
    ApprovalRequest,
    ApprovalStatus,
    Case,
    CaseStatus,
    RuleConfig,
    TierLimit,
)
from compliance.roles import COMPLIANCE_OFFICER, CUSTODY_OPERATOR, SUPPORT
from compliance.services import (
    approval_action_register,
    approval_approve,
    approval_propose,
    approval_reject,
    staff_account_unfreeze_propose,
    tier_limit_propose,
)
from core.errors import Conflict, PermissionDenied
from custody.models import Withdrawal
from custody.services import withdrawal_review_approve, withdrawal_review_reject
from tests.compliance.conftest import otp_client, regtest_address, request_withdrawal

pytestmark = pytest.mark.django_db

BTC = 100_000_000


@pytest.fixture
def officers(staff: Callable[..., User]) -> tuple[User, User]:
    return staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)


@pytest.fixture
def frozen(funded_account: Callable[..., Account], officers: tuple[User, User]) -> Account:
    account = funded_account(1_000)
    account_freeze(account_id=account.pk, actor=officers[0], reason="suspicious pattern")
    return account


def test_self_approval_refused_in_the_service(officers: tuple[User, User], frozen: Account) -> None:
    first, second = officers
    proposal = staff_account_unfreeze_propose(
        actor=first, account_id=frozen.pk, reason="customer explained the source"
    )
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    proposal.refresh_from_db()
    frozen.refresh_from_db()
    assert proposal.status == ApprovalStatus.PENDING and frozen.status == "frozen"

    approval_approve(actor=second, request_id=proposal.pk, reason="checked the documents")
    proposal.refresh_from_db()
    frozen.refresh_from_db()
    assert frozen.status == "active"
    assert (proposal.status, proposal.proposed_by, proposal.approved_by) == (
        ApprovalStatus.EXECUTED,
        first,
        second,
    )
    actions = list(
        AuditEvent.objects.filter(
            object_type="compliance.approvalrequest", object_id=str(proposal.pk)
        )
        .order_by("seq")
        .values_list("action", "actor_id")
    )
    assert actions == [("approval.propose", first.pk), ("approval.approve", second.pk)]
    assert AuditEvent.objects.filter(
        action="account.active", object_id=str(frozen.pk), actor=second
    ).exists()


def test_database_refuses_same_proposer_and_approver(
    officers: tuple[User, User], frozen: Account
) -> None:
    proposal = staff_account_unfreeze_propose(actor=officers[0], account_id=frozen.pk, reason="r")
    with pytest.raises(IntegrityError, match="approval_four_eyes"), transaction.atomic():
        ApprovalRequest.objects.filter(pk=proposal.pk).update(approved_by=officers[0])


def test_only_one_pending_proposal_per_target(officers: tuple[User, User], frozen: Account) -> None:
    staff_account_unfreeze_propose(actor=officers[0], account_id=frozen.pk, reason="r")
    with pytest.raises(Conflict, match="already waiting"):
        staff_account_unfreeze_propose(actor=officers[1], account_id=frozen.pk, reason="r")


def test_reject_keeps_the_account_frozen(officers: tuple[User, User], frozen: Account) -> None:
    proposal = staff_account_unfreeze_propose(actor=officers[0], account_id=frozen.pk, reason="r")
    approval_reject(actor=officers[1], request_id=proposal.pk, reason="not convinced")
    proposal.refresh_from_db()
    frozen.refresh_from_db()
    assert proposal.status == ApprovalStatus.REJECTED and proposal.rejected_by == officers[1]
    assert frozen.status == "frozen"


def test_limit_change_needs_a_second_person(officers: tuple[User, User]) -> None:
    first, second = officers
    proposal = tier_limit_propose(
        actor=first,
        tier=1,
        kind="withdrawal",
        per_transaction_tiyn=1_00,
        daily_tiyn=2_00,
        monthly_tiyn=3_00,
        reason="tighten tier 1",
    )
    assert TierLimit.objects.get(tier=1, kind="withdrawal").per_transaction_tiyn != 1_00
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    approval_approve(actor=second, request_id=proposal.pk)
    limit = TierLimit.objects.get(tier=1, kind="withdrawal")
    assert (limit.per_transaction_tiyn, limit.daily_tiyn, limit.monthly_tiyn) == (100, 200, 300)


def test_other_apps_can_register_actions(staff: Callable[..., User]) -> None:
    ran: list[Any] = []

    def execute(request: ApprovalRequest, actor: Any) -> dict[str, Any]:
        ran.append((request.params, actor))
        return {"ok": True}

    # The custody helper registers "cold_to_hot" the same way; a test name avoids clashing.
    approval_action_register(
        "test_cold_move", permission="compliance.approve_cold_move", executor=execute
    )
    first, second = staff(CUSTODY_OPERATOR), staff(CUSTODY_OPERATOR)
    proposal = approval_propose(
        actor=first,
        action="test_cold_move",
        target_type="custody.move",
        target_id="7",
        params={"amount_sats": 5},
        reason="refill hot",
    )
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    with pytest.raises(PermissionDenied):
        approval_approve(actor=staff(SUPPORT), request_id=proposal.pk)
    done = approval_approve(actor=second, request_id=proposal.pk)
    assert ran == [({"amount_sats": 5}, second)] and done.result == {"ok": True}


@pytest.fixture
def flagged(customer_btc: Callable[..., Account]) -> Withdrawal:
    """A 1 BTC withdrawal, held for review (large amount)."""
    withdrawal = request_withdrawal(customer_btc(), BTC, regtest_address(500))
    assert withdrawal.status == "pending_review"
    return withdrawal


def test_large_withdrawal_needs_four_eyes(officers: tuple[User, User], flagged: Withdrawal) -> None:
    first, second = officers
    proposal = withdrawal_review_approve(actor=first, withdrawal_id=flagged.pk, reason="known")
    assert proposal is not None
    flagged.refresh_from_db()
    assert flagged.status == "pending_review"
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    approval_approve(actor=second, request_id=proposal.pk)
    flagged.refresh_from_db()
    assert flagged.status == "approved" and flagged.reviewed_by == second
    case = Case.objects.get(subject_type="custody.withdrawal", subject_id=str(flagged.pk))
    assert (case.status, case.decision) == (CaseStatus.CLOSED, "approved")


@pytest.fixture
def four_eyes_high(db: None) -> None:
    """The four-eyes threshold out of reach, in force before the withdrawal is requested."""
    RuleConfig.objects.filter(name="four_eyes_withdrawal").update(params={"threshold_tiyn": 10**15})


def test_smaller_withdrawal_approved_by_one(
    officers: tuple[User, User], four_eyes_high: None, flagged: Withdrawal
) -> None:
    assert (
        withdrawal_review_approve(actor=officers[0], withdrawal_id=flagged.pk, reason="ok") is None
    )
    flagged.refresh_from_db()
    assert flagged.status == "approved"


def test_reject_releases_the_hold(officers: tuple[User, User], flagged: Withdrawal) -> None:
    withdrawal_review_reject(actor=officers[0], withdrawal_id=flagged.pk, reason="no source")
    flagged.refresh_from_db()
    account = Account.objects.get(pk=flagged.account_id)
    assert flagged.status == "rejected" and account.held_minor == 0
    case = Case.objects.get(subject_type="custody.withdrawal", subject_id=str(flagged.pk))
    assert (case.decision, case.decision_reason) == ("rejected", "no source")


@pytest.mark.parametrize("role", [SUPPORT, CUSTODY_OPERATOR, None])
def test_without_permission_no_money_action(
    staff: Callable[..., User], role: str | None, flagged: Withdrawal
) -> None:
    user = staff(role)
    with pytest.raises(PermissionDenied):
        withdrawal_review_approve(actor=user, withdrawal_id=flagged.pk, reason="x")
    with pytest.raises(PermissionDenied):
        withdrawal_review_reject(actor=user, withdrawal_id=flagged.pk, reason="x")


def test_support_posting_to_the_admin_action_changes_nothing(
    staff: Callable[..., User], four_eyes_high: None, flagged: Withdrawal
) -> None:
    support = staff(SUPPORT)
    case = Case.objects.get(subject_type="custody.withdrawal", subject_id=str(flagged.pk))
    client = otp_client(support)
    url = reverse("admin:compliance_case_changelist")
    assert client.get(url).status_code == 200  # support may read the queue
    for action in ("approve_withdrawal", "reject_withdrawal", "freeze_customer"):
        response = client.post(
            url,
            {
                "action": action,
                "_selected_action": [case.pk],
                "index": 0,
                "reason": "let it through",
            },
            follow=True,
        )
        assert response.status_code == 200
    flagged.refresh_from_db()
    case.refresh_from_db()
    assert flagged.status == "pending_review" and case.status == CaseStatus.OPEN
    assert Account.objects.get(pk=flagged.account_id).status == "active"
    # Support is offered none of these actions (the page shows only what one may take).
    form = client.get(url).context["action_form"]
    offered = form.fields["action"].choices if form is not None else []
    assert not {name for name, _ in offered} & {
        "approve_withdrawal",
        "reject_withdrawal",
        "freeze_customer",
    }


def test_staff_cannot_decide_a_case_about_themselves(staff: Callable[..., User]) -> None:
    from compliance.services import case_close, case_open

    officer = staff(COMPLIANCE_OFFICER)
    case = case_open(kind="other", subject=officer, summary="staff's own account",
                     customer=officer)  # fmt: skip
    with pytest.raises(PermissionDenied):
        case_close(actor=officer, case_id=case.pk, decision="cleared", reason="fine")
    case_close(actor=staff(COMPLIANCE_OFFICER), case_id=case.pk, decision="cleared", reason="ok")


def test_large_withdrawal_cannot_be_approved_outside_four_eyes(
    customer_btc: Any, make_user: Any
) -> None:
    """custody's own approve service refuses a large withdrawal without the second approver."""
    from compliance.errors import FourEyesViolation
    from compliance.models import RuleConfig
    from custody.models import Withdrawal, WithdrawalStatus
    from custody.services import withdrawal_approve

    RuleConfig.objects.filter(name="four_eyes_withdrawal").update(params={"threshold_tiyn": 1})
    account = customer_btc()
    withdrawal = request_withdrawal(account, 5_000, regtest_address(41))
    Withdrawal.objects.filter(pk=withdrawal.pk).update(status=WithdrawalStatus.PENDING_REVIEW)
    staff = make_user(is_staff=True, is_superuser=True)
    with pytest.raises(FourEyesViolation):
        withdrawal_approve(withdrawal_id=withdrawal.pk, actor=staff, reason="straight through")
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING_REVIEW
