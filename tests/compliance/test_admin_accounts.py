"""Account controls in the admin: freeze at once, unfreeze by four eyes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Account, User
from compliance.models import ApprovalRequest
from compliance.roles import COMPLIANCE_OFFICER
from tests.compliance.conftest import otp_client
from tests.compliance.test_admin import world

__all__ = ["world"]  # the fixture, shared with the admin tests

pytestmark = pytest.mark.django_db


def test_freeze_and_four_eyes_unfreeze_in_the_admin(
    staff: Callable[..., User], world: dict[str, Any]
) -> None:
    account: Account = world["account"]
    first, second = staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)
    one, two = otp_client(first), otp_client(second)
    controls = reverse("admin:accounts_account_changelist")
    one.post(controls, {"action": "freeze", "_selected_action": [account.pk], "index": 0,
                        "reason": "court order"})  # fmt: skip
    account.refresh_from_db()
    assert account.status == "frozen"
    one.post(controls, {"action": "propose_unfreeze", "_selected_action": [account.pk],
                        "index": 0, "reason": "order lifted"})  # fmt: skip
    proposal = ApprovalRequest.objects.get(action="account_unfreeze")
    approvals = reverse("admin:compliance_approvalrequest_changelist")
    form = {"action": "approve", "_selected_action": [proposal.pk], "index": 0, "reason": "ok"}
    # The proposer is not offered Approve; posting it anyway executes nothing
    # (the four-eyes service refuses it too: tests/compliance/test_four_eyes.py).
    assert 'value="approve"' not in one.get(approvals).content.decode()
    one.post(approvals, form, follow=True)
    account.refresh_from_db()
    assert account.status == "frozen"
    two.post(approvals, form)
    account.refresh_from_db()
    proposal.refresh_from_db()
    assert account.status == "active" and proposal.approved_by == second
