"""Staff money actions on withdrawals and accounts, with four eyes where configured.

Every function checks the actor's permission first, whichever door called it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Account
from compliance.models import ApprovalRequest, Case, CaseDecision, CaseStatus, ScreenedMovement
from compliance.permissions import require_perm
from compliance.rules import FOUR_EYES_WITHDRAWAL
from compliance.selectors import rule_config, withdrawal_model
from compliance.services.approvals import approval_action_register, approval_propose
from compliance.services.cases import _require_reason, close_checked
from core.errors import InvalidState, NotFound
from exchange.rates import kzt_value_tiyn

DECIDE_WITHDRAWAL = "compliance.decide_withdrawal"
FREEZE = "compliance.freeze_account"
UNFREEZE = "compliance.unfreeze_account"
PENDING_REVIEW = "pending_review"


def _reason(reason: str) -> str:
    return _require_reason(reason)[:500]


def _withdrawal(withdrawal_id: int) -> Any:
    model = withdrawal_model()
    withdrawal = model.objects.filter(pk=withdrawal_id).first() if model else None
    if withdrawal is None:
        raise NotFound("Withdrawal not found")
    return withdrawal


def withdrawal_kzt_tiyn(withdrawal: Any) -> int:
    """Return the withdrawal's KZT value: the one stored at screening, else at its time."""
    stored = (
        ScreenedMovement.objects.filter(
            subject_type=withdrawal._meta.label_lower, subject_id=str(withdrawal.pk)
        )
        .values_list("amount_kzt_tiyn", flat=True)
        .first()
    )
    if stored is not None:
        return int(stored)
    return kzt_value_tiyn(
        amount_minor=withdrawal.amount_sats, currency="BTC", at=withdrawal.created_at
    )


def withdrawal_needs_four_eyes(withdrawal: Any) -> bool:
    enabled, params = rule_config(FOUR_EYES_WITHDRAWAL)
    return enabled and withdrawal_kzt_tiyn(withdrawal) >= params["threshold_tiyn"]


def _close_withdrawal_cases(
    actor: Any, withdrawal: Any, decision: str, reason: str, client_address: str | None
) -> None:
    open_cases = Case.objects.filter(
        subject_type=withdrawal._meta.label_lower, subject_id=str(withdrawal.pk)
    ).exclude(status=CaseStatus.CLOSED)
    for case_id in open_cases.values_list("pk", flat=True):
        close_checked(
            actor=actor,
            case_id=case_id,
            decision=decision,
            reason=reason,
            client_address=client_address,
        )


def withdrawal_review_approve(
    *, actor: Any, withdrawal_id: int, reason: str, client_address: str | None = None
) -> ApprovalRequest | None:
    """Approve a withdrawal under review, or propose it for four eyes when it is large.

    Returns the ``ApprovalRequest`` when a second approver is needed, else None.
    """
    require_perm(actor, DECIDE_WITHDRAWAL)
    reason = _reason(reason)
    withdrawal = _withdrawal(withdrawal_id)
    if withdrawal.status != PENDING_REVIEW:
        raise InvalidState(f"The withdrawal is {withdrawal.status}, not pending review")
    if withdrawal_needs_four_eyes(withdrawal):
        return approval_propose(
            actor=actor,
            action="withdrawal_approve",
            target=withdrawal,
            params={
                "amount_sats": withdrawal.amount_sats,
                "amount_kzt_tiyn": withdrawal_kzt_tiyn(withdrawal),
            },
            reason=reason,
            client_address=client_address,
        )
    _approve_now(actor, withdrawal.pk, reason, client_address)
    return None


def _approve_now(
    actor: Any,
    withdrawal_id: int,
    reason: str,
    client_address: str | None,
    approval: ApprovalRequest | None = None,
) -> None:
    from custody.services import withdrawal_approve

    with transaction.atomic():
        withdrawal = withdrawal_approve(
            withdrawal_id=withdrawal_id,
            actor=actor,
            reason=reason,
            client_address=client_address,
            approval=approval,
        )
        _close_withdrawal_cases(actor, withdrawal, CaseDecision.APPROVED, reason, client_address)


def _withdrawal_approve_execute(request: ApprovalRequest, actor: Any) -> dict[str, Any]:
    reason = f"four eyes: {request.reason}"
    _approve_now(actor, int(request.target_id), reason, None, approval=request)
    return {"withdrawal_id": int(request.target_id), "status": "approved"}


def withdrawal_review_reject(
    *, actor: Any, withdrawal_id: int, reason: str, client_address: str | None = None
) -> None:
    """Reject a withdrawal under review (its hold is released) and close its cases."""
    from custody.services import withdrawal_reject

    require_perm(actor, DECIDE_WITHDRAWAL)
    reason = _reason(reason)
    with transaction.atomic():
        withdrawal = withdrawal_reject(
            withdrawal_id=withdrawal_id, actor=actor, reason=reason, client_address=client_address
        )
        _close_withdrawal_cases(actor, withdrawal, CaseDecision.REJECTED, reason, client_address)


def _account(account_id: int) -> Account:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound("Account not found")
    return account


def staff_account_freeze(
    *, actor: Any, account_id: int, reason: str, client_address: str | None = None
) -> Account:
    """Freeze an account at once (stopping money is never delayed by four eyes)."""
    from accounts.services import account_freeze

    require_perm(actor, FREEZE)
    return account_freeze(
        account_id=_account(account_id).pk,
        actor=actor,
        reason=_reason(reason),
        client_address=client_address,
    )


def staff_account_unfreeze_propose(
    *, actor: Any, account_id: int, reason: str, client_address: str | None = None
) -> ApprovalRequest:
    """Propose unfreezing an account; a second staff member approves (four eyes)."""
    account = _account(account_id)
    if account.status != "frozen":
        raise InvalidState("The account is not frozen")
    return approval_propose(
        actor=actor,
        action="account_unfreeze",
        target=account,
        params={"number": account.number},
        reason=_reason(reason),
        client_address=client_address,
    )


def _account_unfreeze_execute(request: ApprovalRequest, actor: Any) -> dict[str, Any]:
    from accounts.services import account_unfreeze

    account = account_unfreeze(
        account_id=int(request.target_id), actor=actor, reason=f"four eyes: {request.reason}"
    )
    return {"account_id": account.pk, "status": account.status}


approval_action_register(
    "withdrawal_approve",
    permission=DECIDE_WITHDRAWAL,
    executor=_withdrawal_approve_execute,
    description="Approve a large withdrawal",
)
approval_action_register(
    "account_unfreeze",
    permission=UNFREEZE,
    executor=_account_unfreeze_execute,
    description="Unfreeze an account",
)
