"""``PayoutUpdated`` when the bank's withdrawal behind a payout moves on, once per change.

An approved payout's Greenfield state follows its withdrawal (``payout_states``:
``AwaitingPayment`` -> ``InProgress`` -> ``Completed``, or ``Cancelled``). The row keeps
``notified_state``, the last state the store's webhooks were told of; ``payouts_observe``
compares it with the state now and, under the payout's row lock, sets it and emits the
event in one transaction: two observers at once, or one run twice, send each change once
(the second finds ``notified_state`` already set, or the row locked and skips it).

It runs from custody's withdrawal observer hook right after a withdrawal changes (after
that commit), and from the periodic task ``merchants.tasks.payouts_observe`` that
catches up on anything the hook missed. It never calls the node. Payouts already told
``Completed`` or ``Cancelled`` are never scanned again (the filter and its partial index).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from custody.models import Withdrawal
from merchants.models import PayoutState, PullPaymentPayout, WebhookEvent
from merchants.services.payout_states import payout_state
from merchants.services.payouts import payout_event

OBSERVE_MAX = 500
# Told of these, a payout cannot move again: it leaves the scan for good.
TERMINAL = (PayoutState.COMPLETED, PayoutState.CANCELLED)
# The order of the states an approved payout goes through; it never moves back.
_RANK: dict[str, int] = {
    PayoutState.AWAITING_PAYMENT: 0,
    PayoutState.IN_PROGRESS: 1,
    PayoutState.COMPLETED: 2,
    PayoutState.CANCELLED: 2,
}


def _open_payouts() -> QuerySet[PullPaymentPayout]:
    """Approved payouts whose webhooks have not yet heard a terminal state."""
    return PullPaymentPayout.objects.filter(
        state=PayoutState.AWAITING_PAYMENT,
        notified_state__in=[PayoutState.AWAITING_PAYMENT, PayoutState.IN_PROGRESS],
        payout__withdrawal_id__isnull=False,
    )


def payouts_observe(*, withdrawal_ids: list[int] | None = None, limit: int = OBSERVE_MAX) -> int:
    """Send ``PayoutUpdated`` for every approved payout whose withdrawal moved; return how many.

    ``withdrawal_ids`` narrows the scan to those withdrawals' payouts (custody's hook).
    """
    query = _open_payouts()
    if withdrawal_ids is not None:
        query = query.filter(payout__withdrawal_id__in=withdrawal_ids)
    pairs = list(
        query.order_by("pk").values_list("pk", "notified_state", "payout__withdrawal_id")[:limit]
    )
    statuses = dict(
        Withdrawal.objects.filter(pk__in=[w for _, _, w in pairs]).values_list("pk", "status")
    )
    sent = 0
    for payout_id, notified, withdrawal_id in pairs:
        # A cheap look without a lock first: most open payouts have not moved.
        if _state_of(statuses.get(int(withdrawal_id or 0))) != notified:
            sent += int(payout_observe(payout_id=payout_id))
    return sent


def payouts_observe_withdrawals(withdrawal_ids: list[int]) -> None:
    """Custody's withdrawal observer hook (registered in ``MerchantsConfig.ready``)."""
    payouts_observe(withdrawal_ids=withdrawal_ids)


def _state_of(withdrawal_status: str | None) -> str:
    probe = PullPaymentPayout(state=PayoutState.AWAITING_PAYMENT)
    return payout_state(probe, withdrawal_status)


def payout_observe(*, payout_id: str) -> bool:
    """Under the payout's row lock: compare, set ``notified_state``, emit. True if sent.

    Safe to call any number of times, at once too: a change is sent by one call only.
    """
    with transaction.atomic():
        row = (
            PullPaymentPayout.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("payout", "merchant")
            .filter(pk=payout_id)
            .first()
        )
        if row is None or row.state != PayoutState.AWAITING_PAYMENT or row.payout is None:
            return False  # another observer holds it (it will send), or cancelled meanwhile
        status = (
            Withdrawal.objects.filter(pk=int(row.payout.withdrawal_id or 0))
            .values_list("status", flat=True)
            .first()
        )
        now = _state_of(status)
        if now == row.notified_state or _RANK[now] < _RANK[row.notified_state]:
            return False
        row.notified_state = now
        row.save(update_fields=["notified_state", "updated_at"])
        # The event carries the state it announces (the row's stored ``state`` stays
        # AwaitingPayment: the Greenfield state of an approved payout is read from its
        # withdrawal).
        row.state = now
        payout_event(row, WebhookEvent.PAYOUT_UPDATED)
    return True
