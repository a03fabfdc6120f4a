"""A frozen account's money stops at every stage before broadcast.

- Approved withdrawals of the account go back to review (with a case) in the freezing
  transaction (``accounts.events.account_frozen``), so the next batch never takes them;
  the batch builder also takes only withdrawals of active accounts, and its commit
  re-checks each is still approved.
- A batch already signed but not yet sent is held: the broadcaster does not send bytes
  that would pay a frozen account's withdrawal (``batch_hold_reason``). Staff unfreeze
  (four eyes) or fail the batch; its other withdrawals are then batched again.
Merchant payouts are withdrawals of the merchant's account: the same rules hold.
"""

from __future__ import annotations

from typing import Any

from accounts.actor import Actor
from accounts.events import account_frozen
from accounts.models import Account, AccountStatus
from audit.chain import audit_record
from compliance.models import CaseKind
from compliance.services import case_open
from custody.models import Withdrawal, WithdrawalBatch, WithdrawalStatus


def withdrawals_stop_for_frozen(*, account: Account, actor: Actor, reason: str) -> int:
    """Send the account's approved withdrawals back to review; return how many."""
    stopped = 0
    for withdrawal in (
        Withdrawal.objects.select_for_update()
        .filter(account=account, status=WithdrawalStatus.APPROVED)
        .order_by("pk")
    ):
        withdrawal.status = WithdrawalStatus.PENDING_REVIEW
        withdrawal.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="withdrawal.pending_review", obj=withdrawal,
                     data={"before": WithdrawalStatus.APPROVED, "after": withdrawal.status,
                           "reason": f"account frozen: {reason}"[:500]})  # fmt: skip
        case_open(
            kind=CaseKind.WITHDRAWAL_REVIEW, subject=withdrawal,
            summary=f"Withdrawal W{withdrawal.pk} back to review: account {account.number} frozen",
            findings=[{"rule": "account_frozen", "detail": reason[:200]}],
            customer=account.owner, amount_minor=withdrawal.amount_sats, currency="BTC",
        )  # fmt: skip
        stopped += 1
    return stopped


def batch_hold_reason(batch: WithdrawalBatch) -> str:
    """Return why a signed batch must not be sent now (a frozen account in it), or ""."""
    frozen = batch.withdrawals.exclude(account__status=AccountStatus.ACTIVE)
    numbers = list(frozen.values_list("account__number", flat=True)[:5])
    return f"account(s) {', '.join(numbers)} frozen" if numbers else ""


def _on_account_frozen(sender: Any, account: Account, actor: Actor, reason: str, **kw: Any) -> None:
    withdrawals_stop_for_frozen(account=account, actor=actor, reason=reason)


def freeze_listen() -> None:
    """Connect to the ledger's freeze event (from ``CustodyConfig.ready``)."""
    account_frozen.connect(_on_account_frozen, dispatch_uid="custody-freeze-stops-withdrawals")
