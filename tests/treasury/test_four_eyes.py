"""Four eyes on cold-to-hot moves: requester and two approvers are three people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest
from compliance.services import approval_approve
from core.errors import PermissionDenied
from treasury.errors import ColdFourEyes, ColdMoveState
from treasury.models import ColdMove, ColdMoveStatus
from treasury.services import cold_move_approve, cold_move_request

pytestmark = pytest.mark.django_db


def _request(requester: Any) -> ColdMove:
    return cold_move_request(amount_sats=30_000_000, reason="refill hot", actor=requester)


def test_requester_cannot_approve_and_nobody_approves_twice(
    custody_staff: Callable[..., Any],
) -> None:
    requester, first, second = custody_staff(), custody_staff(), custody_staff()
    move = _request(requester)

    with pytest.raises(ColdFourEyes):
        cold_move_approve(move_id=move.pk, actor=requester)
    move = cold_move_approve(move_id=move.pk, actor=first)
    assert move.status == ColdMoveStatus.APPROVING
    assert move.approval_id is not None
    request_id = move.approval_id
    with pytest.raises(ColdFourEyes):
        cold_move_approve(move_id=move.pk, actor=first)
    with pytest.raises(FourEyesViolation):  # the engine's own check, whichever door
        approval_approve(actor=first, request_id=request_id)
    with pytest.raises(ColdFourEyes):  # the requester through the compliance screen
        approval_approve(actor=requester, request_id=request_id)
    move.refresh_from_db()
    assert (move.status, move.approved_by_2_id) == (ColdMoveStatus.APPROVING, None)

    move = cold_move_approve(move_id=move.pk, actor=second)
    assert move.status == ColdMoveStatus.APPROVED
    assert (move.requested_by_id, move.approved_by_1_id, move.approved_by_2_id) == (
        requester.pk, first.pk, second.pk,
    )  # fmt: skip
    assert ApprovalRequest.objects.get(pk=request_id).status == "executed"
    with pytest.raises(ColdMoveState):
        cold_move_approve(move_id=move.pk, actor=custody_staff())
    actions = list(AuditEvent.objects.filter(object_id=str(move.pk), action__startswith="cold_move")
                   .values_list("action", flat=True))  # fmt: skip
    assert actions.count("cold_move.approve") == 2


def test_database_refuses_same_person_twice(custody_staff: Callable[..., Any]) -> None:
    requester, first = custody_staff(), custody_staff()
    move = _request(requester)
    with transaction.atomic(), pytest.raises(IntegrityError):
        ColdMove.objects.filter(id=move.pk).update(approved_by_1=first, approved_by_2=first)
    with transaction.atomic(), pytest.raises(IntegrityError):
        ColdMove.objects.filter(id=move.pk).update(approved_by_1=requester)
    with transaction.atomic(), pytest.raises(IntegrityError):
        ColdMove.objects.filter(id=move.pk).update(status=ColdMoveStatus.APPROVED)


def test_staff_without_custody_permission_is_refused(
    custody_staff: Callable[..., Any], make_user: Callable[..., Any]
) -> None:
    move = _request(custody_staff())
    with pytest.raises(PermissionDenied):
        cold_move_approve(move_id=move.pk, actor=make_user(is_staff=True))
    with pytest.raises(PermissionDenied):
        cold_move_request(amount_sats=1, reason="x", actor=make_user(is_staff=True))
