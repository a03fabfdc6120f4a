"""Four eyes: one staff member proposes an action, a different one approves it.

Actions are registered with the permission both people need and an executor
that runs when the second person approves, in the same transaction. Other apps
register their own from their ``AppConfig.ready`` (custody: ``"withdrawal_approve"``,
treasury: ``"cold_to_hot"``)::

    from compliance.services.approvals import approval_action_register
    approval_action_register("cold_to_hot", permission="compliance.approve_cold_move",
                             executor=cold_to_hot_execute, description="...")

The executor is ``executor(request: ApprovalRequest, actor) -> dict`` (JSON
result stored on the request); if it raises, nothing is approved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.actor import Actor
from audit.chain import audit_record
from compliance.errors import FourEyesViolation, UnknownAction
from compliance.models import ApprovalRequest, ApprovalStatus
from compliance.permissions import require_perm
from core.errors import Conflict, InvalidState, NotFound, ValidationFailed

Executor = Callable[[ApprovalRequest, Any], dict[str, Any]]


@dataclass(frozen=True)
class ApprovalAction:
    name: str
    permission: str
    executor: Executor
    description: str = ""


_ACTIONS: dict[str, ApprovalAction] = {}


def approval_action_register(
    name: str, *, permission: str, executor: Executor, description: str = ""
) -> None:
    """Register (or replace) a four-eyes action and its executor."""
    _ACTIONS[name] = ApprovalAction(name, permission, executor, description)


def approval_permissions() -> set[str]:
    """Return the permissions of every registered action (who may decide some request)."""
    return {spec.permission for spec in _ACTIONS.values()}


def approval_action(name: str) -> ApprovalAction:
    try:
        return _ACTIONS[name]
    except KeyError:
        raise UnknownAction(f"Unknown action {name!r}") from None


def approval_propose(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    params: dict[str, Any] | None = None,
    reason: str,
    client_address: str | None = None,
) -> ApprovalRequest:
    """Propose an action for a second staff member to approve."""
    spec = approval_action(action)
    actor = require_perm(actor, spec.permission)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    if target is not None:
        target_type, target_id = target._meta.label_lower, str(target.pk)
    try:
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                action=action,
                target_type=target_type,
                target_id=str(target_id),
                params=params or {},
                reason=reason,
                proposed_by=actor,
            )
            audit_record(
                actor=actor,
                action="approval.propose",
                obj=request,
                data={
                    "action": action,
                    "target": f"{target_type}:{target_id}",
                    "params": request.params,
                    "reason": reason,
                },
                client_address=client_address,
            )
    except IntegrityError as exc:
        raise Conflict("This action is already waiting for approval") from exc
    return request


def _lock_pending(request_id: int) -> ApprovalRequest:
    request = ApprovalRequest.objects.select_for_update().filter(pk=request_id).first()
    if request is None:
        raise NotFound("Approval request not found")
    if request.status != ApprovalStatus.PENDING:
        raise InvalidState(f"The request is already {request.status}")
    return request


def approval_approve(
    *, actor: Actor, request_id: int, reason: str = "", client_address: str | None = None
) -> ApprovalRequest:
    """Approve as the second person and execute the action in the same transaction."""
    with transaction.atomic():
        request = _lock_pending(request_id)
        if actor is None or request.proposed_by_id == getattr(actor, "pk", None):
            raise FourEyesViolation("You proposed this; a different staff member must approve it")
        spec = approval_action(request.action)
        require_perm(actor, spec.permission)
        request.approved_by = actor
        request.status = ApprovalStatus.EXECUTED
        request.decided_at = timezone.now()
        request.decision_reason = (reason or "").strip()
        request.result = spec.executor(request, actor) or {}
        request.save(
            update_fields=["approved_by", "status", "decided_at", "decision_reason", "result"]
        )
        audit_record(
            actor=actor,
            action="approval.approve",
            obj=request,
            data={
                "action": request.action,
                "proposed_by": request.proposed_by_id,
                "target": f"{request.target_type}:{request.target_id}",
                "result": request.result,
            },
            client_address=client_address,
        )
    return request


def approval_reject(
    *, actor: Actor, request_id: int, reason: str, client_address: str | None = None
) -> ApprovalRequest:
    """Reject a proposal (the proposer may withdraw their own) with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    with transaction.atomic():
        request = _lock_pending(request_id)
        require_perm(actor, approval_action(request.action).permission)
        request.status = ApprovalStatus.REJECTED
        request.decided_at = timezone.now()
        request.decision_reason = reason
        request.rejected_by = actor
        # approved_by stays empty, so a proposer may withdraw their own proposal.
        request.save(update_fields=["status", "decided_at", "decision_reason", "rejected_by"])
        audit_record(
            actor=actor,
            action="approval.reject",
            obj=request,
            data={"action": request.action, "reason": reason},
            client_address=client_address,
        )
    return request
