"""Staff actions on accounts: freeze at once, unfreeze with four eyes.

(Withdrawal review is custody's: ``custody.services.review``.)

Every function checks the actor's permission first, whichever door called it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from accounts.actor import Actor
from accounts.models import Account
from compliance.models import ApprovalRequest
from compliance.permissions import require_perm
from compliance.services.approvals import approval_action_register, approval_propose
from compliance.services.cases import _require_reason
from core.errors import InvalidState, NotFound

FREEZE = "compliance.freeze_account"
UNFREEZE = "compliance.unfreeze_account"


def _reason(reason: str) -> str:
    return _require_reason(reason)[:500]


def _account(account_id: int) -> Account:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound("Account not found")
    return account


def staff_account_freeze(
    *, actor: Actor, account_id: int, reason: str, client_address: str | None = None
) -> Account:
    """Freeze an account at once (stopping money is never delayed by four eyes)."""
    from accounts.services import account_freeze

    actor = require_perm(actor, FREEZE)
    return account_freeze(
        account_id=_account(account_id).pk,
        actor=actor,
        reason=_reason(reason),
        client_address=client_address,
    )


def staff_account_unfreeze_propose(
    *, actor: Actor, account_id: int, reason: str, client_address: str | None = None
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


def _account_unfreeze_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    from accounts.services import account_unfreeze

    account = account_unfreeze(
        account_id=int(request.target_id), actor=actor, reason=f"four eyes: {request.reason}"
    )
    return {"account_id": account.pk, "status": account.status}


approval_action_register(
    "account_unfreeze",
    permission=UNFREEZE,
    executor=_account_unfreeze_execute,
    description=gettext_noop("Unfreeze an account"),
)
