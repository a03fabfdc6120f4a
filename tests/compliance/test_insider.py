"""Issue 12, point 2: one compliance officer cannot change the controls alone.

Each test tries the change as one person, through the service and through the admin,
and checks it fails with a clear error and nothing changed or moved; then the
two-person path, which succeeds. A rule changed while a withdrawal waits does not
change that withdrawal's four-eyes decision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Identity, Transfer, User
from accounts.selectors import ledger_check
from compliance import services
from compliance.errors import FourEyesViolation
from compliance.models import (
    ApprovalRequest,
    ApprovalStatus,
    RuleConfig,
    RuleConfigVersion,
    SanctionedAddress,
)
from compliance.roles import COMPLIANCE_OFFICER
from compliance.selectors import rule_config
from compliance.services import (
    approval_approve,
    identity_approve,
    identity_approve_propose,
    rule_config_propose,
    sanctioned_address_add,
    sanctioned_address_deactivate_propose,
    sanctioned_address_set_active,
)
from custody.models import Withdrawal, WithdrawalStatus
from custody.services import withdrawal_approve, withdrawal_review_approve
from tests.compliance.conftest import otp_client, regtest_address, request_withdrawal

pytestmark = [pytest.mark.django_db, pytest.mark.insider]

BTC = 100_000_000


def ledger_state() -> tuple[int, list[tuple[int, int, int]]]:
    """What money looks like now: the transfer count and every account's balances."""
    accounts = Account.objects.order_by("pk").values_list("pk", "posted_minor", "held_minor")
    return Transfer.objects.count(), list(accounts)


def assert_nothing_moved(before: tuple[int, list[tuple[int, int, int]]]) -> None:
    assert ledger_state() == before
    assert ledger_check() == []


@pytest.fixture
def officers(staff: Callable[..., User]) -> tuple[User, User]:
    return staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)


def _approve_in_admin(user: User, proposal: ApprovalRequest) -> list[str]:
    response = otp_client(user).post(
        reverse("admin:compliance_approvalrequest_changelist"),
        {"action": "approve", "_selected_action": [proposal.pk], "index": 0, "reason": "ok"},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


# --- rules and thresholds -------------------------------------------------------------


def test_one_officer_cannot_switch_off_four_eyes(officers: tuple[User, User]) -> None:
    first, second = officers
    before = ledger_state()
    assert not hasattr(services, "rule_config_update")  # no one-person path left
    proposal = rule_config_propose(actor=first, name="four_eyes_withdrawal", enabled=False,
                                   params={}, reason="too slow")  # fmt: skip
    with pytest.raises(FourEyesViolation, match="different staff member"):
        approval_approve(actor=first, request_id=proposal.pk)
    assert RuleConfig.objects.get(name="four_eyes_withdrawal").enabled
    # The admin does not even offer the proposer an Approve; posting it anyway does nothing.
    assert not any("approved and executed" in m for m in _approve_in_admin(first, proposal))
    assert RuleConfig.objects.get(name="four_eyes_withdrawal").enabled
    assert_nothing_moved(before)

    approval_approve(actor=second, request_id=proposal.pk, reason="agreed")
    assert not RuleConfig.objects.get(name="four_eyes_withdrawal").enabled
    version = RuleConfigVersion.objects.filter(name="four_eyes_withdrawal").first()
    assert version is not None and version.approval_id == proposal.pk and not version.enabled
    assert_nothing_moved(before)


def test_rule_edit_in_the_admin_is_only_a_proposal(officers: tuple[User, User]) -> None:
    first, second = officers
    before = ledger_state()
    rule = RuleConfig.objects.get(name="large_amount")
    params = dict(rule.params)
    url = reverse("admin:compliance_ruleconfig_change", args=[rule.pk])
    otp_client(first).post(url, {"params": '{"threshold_tiyn": 1}', "reason": "off"})
    rule.refresh_from_db()
    assert rule.enabled and rule.params == params
    proposal = ApprovalRequest.objects.get(action="rule_change", status=ApprovalStatus.PENDING)
    assert proposal.params["after"] == {"enabled": False, "params": {"threshold_tiyn": 1}}
    assert_nothing_moved(before)
    approval_approve(actor=second, request_id=proposal.pk)
    rule.refresh_from_db()
    assert not rule.enabled and rule.params == {"threshold_tiyn": 1}


def test_rule_raised_while_a_withdrawal_waits_keeps_its_four_eyes(
    officers: tuple[User, User], customer_btc: Callable[..., Account]
) -> None:
    """The officer raises the threshold (with a colleague), then approves alone: refused."""
    first, second = officers
    waiting = request_withdrawal(customer_btc(), BTC, regtest_address(700))
    assert waiting.status == WithdrawalStatus.PENDING_REVIEW
    proposal = rule_config_propose(actor=first, name="four_eyes_withdrawal", enabled=True,
                                   params={"threshold_tiyn": 10**15}, reason="raise it")  # fmt: skip
    approval_approve(actor=second, request_id=proposal.pk)
    before = ledger_state()

    assert (
        withdrawal_review_approve(actor=first, withdrawal_id=waiting.pk, reason="mine") is not None
    )
    with pytest.raises(FourEyesViolation):
        withdrawal_approve(withdrawal_id=waiting.pk, actor=first, reason="alone")
    waiting.refresh_from_db()
    assert waiting.status == WithdrawalStatus.PENDING_REVIEW
    assert_nothing_moved(before)

    # A withdrawal requested after the change is decided by one reviewer.
    later = request_withdrawal(customer_btc(), BTC, regtest_address(701))
    assert withdrawal_review_approve(actor=first, withdrawal_id=later.pk, reason="ok") is None
    assert Withdrawal.objects.get(pk=later.pk).status == WithdrawalStatus.APPROVED


def test_rule_versions_are_append_only(officers: tuple[User, User]) -> None:
    from django.db import IntegrityError, transaction

    version = RuleConfigVersion.objects.first()
    assert version is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleConfigVersion.objects.filter(pk=version.pk).update(enabled=not version.enabled)
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleConfigVersion.objects.filter(pk=version.pk).delete()


def test_every_rule_write_is_versioned_and_a_direct_one_shows(officers: tuple[User, User]) -> None:
    """Rows that existed became first versions; a write outside the engine has no approval."""
    names = set(RuleConfig.objects.values_list("name", flat=True))
    assert names <= set(RuleConfigVersion.objects.values_list("name", flat=True))
    RuleConfig.objects.filter(name="velocity").update(enabled=False)  # a shell, say
    direct = RuleConfigVersion.objects.filter(name="velocity").first()
    assert direct is not None and not direct.enabled and direct.approval_id is None
    long_ago = timezone.now() - timedelta(days=3650)
    assert rule_config("velocity", at=long_ago)[0]  # before history: the first version
    assert not rule_config("velocity", at=timezone.now())[0]


# --- the sanctions list ---------------------------------------------------------------


def test_one_officer_cannot_take_an_address_off_the_list(officers: tuple[User, User]) -> None:
    first, second = officers
    before = ledger_state()
    row = sanctioned_address_add(actor=first, address=regtest_address(710), source="OFAC")
    assert row.active  # adding takes effect at once: it only stops money
    with pytest.raises(FourEyesViolation, match="four eyes"):
        sanctioned_address_set_active(actor=first, address_id=row.pk, active=False, reason="x")
    proposal = sanctioned_address_deactivate_propose(actor=first, address_id=row.pk,
                                                     reason="delisted")  # fmt: skip
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    row.refresh_from_db()
    assert row.active
    assert_nothing_moved(before)

    approval_approve(actor=second, request_id=proposal.pk)
    row.refresh_from_db()
    assert not row.active
    assert_nothing_moved(before)


def test_admin_deactivate_only_proposes(officers: tuple[User, User]) -> None:
    first, _ = officers
    row = sanctioned_address_add(actor=first, address=regtest_address(711), source="UN")
    before = ledger_state()
    response = otp_client(first).post(
        reverse("admin:compliance_sanctionedaddress_changelist"),
        {"action": "deactivate", "_selected_action": [row.pk], "index": 0, "reason": "gone"},
        follow=True,
    )
    assert response.status_code == 200
    assert SanctionedAddress.objects.get(pk=row.pk).active
    proposal = ApprovalRequest.objects.get(action="sanctions_deactivate")
    assert proposal.target_id == str(row.pk) and proposal.status == ApprovalStatus.PENDING
    # The admin does not even offer the proposer an Approve; posting it anyway does nothing.
    assert not any("approved and executed" in m for m in _approve_in_admin(first, proposal))
    assert SanctionedAddress.objects.get(pk=row.pk).active
    assert_nothing_moved(before)


# --- KYC above the first tier ---------------------------------------------------------


@pytest.fixture
def submitted(make_user: Callable[..., User]) -> Identity:
    return Identity.objects.create(
        user=make_user(), full_name="Aigerim Sadykova", iin="900101300011",
        address="Almaty", status="submitted", submitted_at=timezone.now(),
    )  # fmt: skip


def test_one_officer_cannot_approve_tier_two(
    officers: tuple[User, User], submitted: Identity
) -> None:
    first, second = officers
    before = ledger_state()
    with pytest.raises(FourEyesViolation, match="four eyes"):
        identity_approve(actor=first, identity_id=submitted.pk, tier=2, reason="alone")
    otp_client(first).post(
        reverse("admin:accounts_identity_review", args=[submitted.pk]),
        {"decision": "approve", "tier": 2, "reason": "documents match"},
    )
    submitted.refresh_from_db()
    assert (submitted.status, submitted.tier) == ("submitted", 0)
    proposal = ApprovalRequest.objects.get(action="kyc_tier_approve")
    assert proposal.proposed_by == first and proposal.params["tier"] == 2
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert_nothing_moved(before)

    approval_approve(actor=second, request_id=proposal.pk)
    submitted.refresh_from_db()
    assert (submitted.status, submitted.tier, submitted.reviewed_by) == ("approved", 2, second)


def test_tier_two_proposal_by_service(officers: tuple[User, User], submitted: Identity) -> None:
    first, second = officers
    proposal = identity_approve_propose(actor=first, identity_id=submitted.pk, tier=2,
                                        reason="documents match")  # fmt: skip
    approval_approve(actor=second, request_id=proposal.pk)
    assert Identity.objects.get(pk=submitted.pk).tier == 2


def test_tier_one_stays_one_reviewer(officers: tuple[User, User], submitted: Identity) -> None:
    identity_approve(actor=officers[0], identity_id=submitted.pk, tier=1)
    assert Identity.objects.get(pk=submitted.pk).tier == 1
