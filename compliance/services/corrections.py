"""Ledger corrections by four eyes: an adjustment transfer or a reversal.

A ledger mistake is never edited (the trigger refuses it): it is corrected by a new
transfer. One staff member proposes the correction with a reason; a different one
approves it, and only then is it posted, in the approval's transaction. Both need
``compliance.correct_ledger``. This is what the runbook's recovery step uses.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from accounts.actor import Actor
from accounts.models import Account, Transfer, TransferCode
from accounts.services import transfer_create, transfer_reverse
from compliance.models import ApprovalRequest
from compliance.services.approvals import approval_action_register, approval_propose
from core.errors import NotFound, ValidationFailed
from core.money import check_minor

CORRECT_LEDGER = "compliance.correct_ledger"
ADJUST = "ledger_adjustment"
REVERSE = "ledger_reversal"


def ledger_adjustment_propose(
    *,
    actor: Actor,
    debit_account_id: int,
    credit_account_id: int,
    amount_minor: int,
    reason: str,
    client_address: str | None = None,
) -> ApprovalRequest:
    """Propose an adjustment transfer; it is posted when a second person approves."""
    accounts = {
        a.pk: a for a in Account.objects.filter(pk__in=[debit_account_id, credit_account_id])
    }
    if debit_account_id not in accounts or credit_account_id not in accounts:
        raise NotFound("Account not found")
    debit = accounts[debit_account_id]
    if debit_account_id == credit_account_id:
        raise ValidationFailed("Debit and credit must differ", fields={"credit": ["Same account."]})
    check_minor(amount_minor, debit.currency)
    if amount_minor <= 0:
        raise ValidationFailed("Amount must be positive", fields={"amount": ["More than 0."]})
    return approval_propose(
        actor=actor, action=ADJUST, target=debit,
        params={"debit": debit_account_id, "credit": credit_account_id,
                "amount_minor": amount_minor, "currency": debit.currency},
        reason=reason, client_address=client_address,
    )  # fmt: skip


def ledger_reversal_propose(
    *, actor: Actor, transfer_id: int, reason: str, client_address: str | None = None
) -> ApprovalRequest:
    """Propose reversing a transfer; it is reversed when a second person approves."""
    transfer = Transfer.objects.filter(pk=transfer_id).first()
    if transfer is None:
        raise NotFound("Transfer not found")
    return approval_propose(
        actor=actor, action=REVERSE, target=transfer,
        params={"transfer": transfer.pk, "amount_minor": transfer.amount_minor,
                "currency": transfer.currency},
        reason=reason, client_address=client_address,
    )  # fmt: skip


def _adjust_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    params = request.params
    transfer = transfer_create(
        debit_account_id=int(params["debit"]),
        credit_account_id=int(params["credit"]),
        amount_minor=int(params["amount_minor"]),
        code=TransferCode.ADJUSTMENT,
        initiator=actor,
        idempotency_key=f"approval:{request.pk}",
        memo=f"adjustment (four eyes, request {request.pk}): {request.reason}"[:200],
        allow_frozen_debit=True,
    )
    return {"transfer_id": transfer.pk}


def _reverse_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    reversal = transfer_reverse(
        transfer_id=int(request.params["transfer"]),
        actor=actor,
        reason=f"four eyes, request {request.pk}: {request.reason}",
    )
    return {"transfer_id": reversal.pk}


approval_action_register(
    ADJUST, permission=CORRECT_LEDGER, executor=_adjust_execute,
    description=gettext_noop("Post a ledger adjustment transfer"),
)  # fmt: skip
approval_action_register(
    REVERSE, permission=CORRECT_LEDGER, executor=_reverse_execute,
    description=gettext_noop("Reverse a ledger transfer"),
)  # fmt: skip
