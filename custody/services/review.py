"""Withdrawal review, owned here: the queue's decisions, and four eyes for large ones.

A withdrawal that screening flagged waits in ``pending_review``. One permission,
``custody.review_withdrawal``, decides it, whichever door asks (the custody admin, the
case screen, the four-eyes request). Above compliance's four-eyes threshold (a rule in
its rules table, valued in KZT at the rate of the request) one reviewer proposes and a
different one approves; ``withdrawal_approve`` itself refuses any other path.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from accounts.services import hold_void
from audit.chain import audit_record
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest, CaseDecision
from compliance.registry import SubjectReview, admin_counter_register, subject_review_register
from compliance.rules import FOUR_EYES_WITHDRAWAL
from compliance.selectors import rule_config, screened_kzt_tiyn
from compliance.services.approvals import approval_action_register, approval_propose
from compliance.services.cases import cases_close_for
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.money import format_amount
from custody.errors import WithdrawalStateError
from custody.models import Withdrawal, WithdrawalStatus
from custody.services.withdrawal_observers import withdrawals_changed
from exchange.rates import kzt_value_tiyn

REVIEW_PERMISSION = "custody.review_withdrawal"
APPROVE_ACTION = "withdrawal_approve"


def withdrawal_kzt_tiyn(withdrawal: Withdrawal) -> int:
    """Return the withdrawal's KZT value: the one stored at screening, else at its time."""
    stored = screened_kzt_tiyn(subject=withdrawal)
    if stored is not None:
        return stored
    return kzt_value_tiyn(
        amount_minor=withdrawal.amount_sats, currency="BTC", at=withdrawal.created_at
    )


def withdrawal_needs_four_eyes(withdrawal: Withdrawal) -> bool:
    """Return whether approving this withdrawal needs a second reviewer.

    Decided with the four-eyes rule in force when the withdrawal was requested: a rule
    raised (or switched off) while it waits never changes its decision.
    """
    enabled, params = rule_config(FOUR_EYES_WITHDRAWAL, at=withdrawal.created_at)
    return enabled and withdrawal_kzt_tiyn(withdrawal) >= params["threshold_tiyn"]


def _lock(withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_for_update().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound("Withdrawal not found")
    return withdrawal


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    return reason[:500]


def _check_reviewer(actor: Actor, withdrawal: Withdrawal) -> None:
    if actor is None or not actor.is_staff or not actor.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("You may not review withdrawals")
    if actor.pk == withdrawal.requested_by_id:
        raise PermissionDenied("You may not review your own withdrawal")


def withdrawal_review_approve(
    *, actor: Actor, withdrawal_id: int, reason: str, client_address: str | None = None
) -> ApprovalRequest | None:
    """Approve a withdrawal under review, or propose it for four eyes when it is large.

    Returns the ``ApprovalRequest`` when a second reviewer is needed, else None.
    """
    reason = _reason(reason)
    withdrawal = Withdrawal.objects.filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound("Withdrawal not found")
    _check_reviewer(actor, withdrawal)
    if withdrawal.status != WithdrawalStatus.PENDING_REVIEW:
        raise WithdrawalStateError(f"Withdrawal is {withdrawal.status}, not pending review")
    if withdrawal_needs_four_eyes(withdrawal):
        return approval_propose(
            actor=actor,
            action=APPROVE_ACTION,
            target=withdrawal,
            params={
                "amount_sats": withdrawal.amount_sats,
                "amount_kzt_tiyn": withdrawal_kzt_tiyn(withdrawal),
            },
            reason=reason,
            client_address=client_address,
        )
    withdrawal_approve(
        withdrawal_id=withdrawal.pk, actor=actor, reason=reason, client_address=client_address
    )
    return None


def withdrawal_review_reject(
    *, actor: Actor, withdrawal_id: int, reason: str, client_address: str | None = None
) -> Withdrawal:
    """Reject a withdrawal under review (alias of ``withdrawal_reject`` for the queue)."""
    return withdrawal_reject(
        withdrawal_id=withdrawal_id, actor=actor, reason=reason, client_address=client_address
    )


def withdrawal_approve(
    *,
    withdrawal_id: int,
    actor: Actor,
    reason: str,
    client_address: str | None = None,
    approval: ApprovalRequest | None = None,
) -> Withdrawal:
    """Approve a withdrawal held for review, so the next batch sends it; close its cases.

    A withdrawal that needs four eyes is approved only with ``approval``: the request
    proposed by someone else and being approved now by ``actor`` (the four-eyes
    executor passes it). Any other door gets ``FourEyesViolation``.
    """
    reason = _reason(reason)
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        _check_reviewer(actor, withdrawal)
        if withdrawal.status != WithdrawalStatus.PENDING_REVIEW:
            raise WithdrawalStateError(f"Withdrawal is {withdrawal.status}, not pending review")
        _check_four_eyes(withdrawal, actor, approval)
        withdrawal_decide(withdrawal, WithdrawalStatus.APPROVED, actor, reason, client_address)
        cases_close_for(subject=withdrawal, actor=actor, decision=CaseDecision.APPROVED,
                        reason=reason, client_address=client_address)  # fmt: skip
    return withdrawal


def _check_four_eyes(
    withdrawal: Withdrawal, actor: Actor, approval: ApprovalRequest | None
) -> None:
    if not withdrawal_needs_four_eyes(withdrawal):
        return
    actor_id = getattr(actor, "pk", None)
    if (
        approval is None
        or approval.action != APPROVE_ACTION
        or str(approval.target_id) != str(withdrawal.pk)
        or approval.approved_by_id != actor_id
        or approval.proposed_by_id == actor_id
    ):
        raise FourEyesViolation(
            "This withdrawal needs four eyes: one staff member proposes, another approves"
        )


def withdrawal_reject(
    *, withdrawal_id: int, actor: Actor, reason: str, client_address: str | None = None
) -> Withdrawal:
    """Reject a withdrawal not yet batched; the hold is released and its cases close."""
    reason = _reason(reason)
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        _check_reviewer(actor, withdrawal)
        if withdrawal.status not in (WithdrawalStatus.PENDING_REVIEW, WithdrawalStatus.APPROVED):
            raise WithdrawalStateError(f"Withdrawal is {withdrawal.status}; it cannot be rejected")
        withdrawal_decide(withdrawal, WithdrawalStatus.REJECTED, actor, reason, client_address)
        cases_close_for(subject=withdrawal, actor=actor, decision=CaseDecision.REJECTED,
                        reason=reason, client_address=client_address)  # fmt: skip
    return withdrawal


def withdrawal_decide(withdrawal: Withdrawal, status: str, actor: Actor, reason: str,
                      client_address: str | None, *, review: bool = True) -> None:  # fmt: skip
    """Move a locked withdrawal to ``status``; release its hold unless approved; audit."""
    before = withdrawal.status
    withdrawal.status = status
    fields = ["status", "updated_at"]
    if review:
        withdrawal.reviewed_by = actor
        withdrawal.decision_reason = reason[:500]
        fields += ["reviewed_by", "decision_reason"]
    withdrawal.save(update_fields=fields)
    withdrawals_changed([withdrawal.pk])
    if status != WithdrawalStatus.APPROVED and withdrawal.hold_id is not None:
        hold_void(hold_id=withdrawal.hold_id, actor=actor, reason=reason)
    audit_record(
        actor=actor, action=f"withdrawal.{status}", obj=withdrawal,
        data={"before": before, "after": status, "reason": reason},
        client_address=client_address,
    )  # fmt: skip


def _approve_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    """The four-eyes executor: the second reviewer's approval, in the request's transaction."""
    withdrawal_approve(withdrawal_id=int(request.target_id), actor=actor,
                       reason=f"four eyes: {request.reason}", approval=request)  # fmt: skip
    return {"withdrawal_id": int(request.target_id), "status": WithdrawalStatus.APPROVED.value}


def _review_facts(subject_id: str) -> dict[str, Any]:
    """What the case screen shows beside a case about a withdrawal."""
    withdrawal = Withdrawal.objects.filter(pk=subject_id).first() if subject_id.isdigit() else None
    if withdrawal is None:
        return {}
    return {
        "withdrawal": withdrawal,
        "withdrawal_amount": format_amount(withdrawal.amount_sats, "BTC", with_code=True),
        "same_address": Withdrawal.objects.filter(address=withdrawal.address)
        .exclude(pk=withdrawal.pk)
        .count(),
        "approvals": ApprovalRequest.objects.filter(
            target_type=Withdrawal._meta.label_lower, target_id=str(withdrawal.pk)
        ),
    }


def review_register() -> None:
    """Tell compliance how withdrawals are decided (called from ``CustodyConfig.ready``)."""
    approval_action_register(APPROVE_ACTION, permission=REVIEW_PERMISSION,
                             executor=_approve_execute, description=gettext_noop("Approve a large withdrawal"))  # fmt: skip

    def approve(*, actor: Actor, subject_id: str, reason: str, client_address: str | None) -> Any:
        return withdrawal_review_approve(actor=actor, withdrawal_id=int(subject_id),
                                         reason=reason, client_address=client_address)  # fmt: skip

    def reject(*, actor: Actor, subject_id: str, reason: str, client_address: str | None) -> Any:
        return withdrawal_reject(withdrawal_id=int(subject_id), actor=actor, reason=reason,
                                 client_address=client_address)  # fmt: skip

    subject_review_register(SubjectReview(
        subject_type=Withdrawal._meta.label_lower, permission=REVIEW_PERMISSION,
        approve=approve, reject=reject, facts=_review_facts,
    ))  # fmt: skip
    admin_counter_register(
        "withdrawals_awaiting",
        lambda: Withdrawal.objects.filter(status=WithdrawalStatus.PENDING_REVIEW).count(),
    )
