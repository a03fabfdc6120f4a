"""Reads the rules need: earlier screened movements and the customer's last activity."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, QuerySet, Sum

from accounts.models import Transfer
from compliance.models import ScreenedMovement
from compliance.rules.base import BLOCK, Movement


def earlier_movements(movement: Movement, *, window_minutes: int) -> QuerySet[ScreenedMovement]:
    """Return the customer's earlier, not blocked movements of the same kind in the window."""
    start = movement.at - timedelta(minutes=window_minutes)
    return (
        ScreenedMovement.objects.filter(
            user=movement.user,
            kind=movement.kind,
            created_at__gte=start,
            created_at__lte=movement.at,
        )
        .exclude(decision=BLOCK)
        .exclude(subject_type=movement.subject_type, subject_id=movement.subject_id)
    )


def count_and_sum(queryset: QuerySet[ScreenedMovement]) -> tuple[int, int]:
    row = queryset.aggregate(n=Count("id"), total=Sum("amount_kzt_tiyn"))
    return int(row["n"] or 0), int(row["total"] or 0)


def address_used_before(movement: Movement) -> bool:
    """Return whether the customer sent to this address before (blocked attempts excluded)."""
    return (
        ScreenedMovement.objects.filter(user=movement.user, address=movement.address)
        .exclude(decision=BLOCK)
        .exclude(subject_type=movement.subject_type, subject_id=movement.subject_id)
        .exists()
    )


def last_activity(movement: Movement) -> datetime:
    """Return when the customer last moved money (or signed up, if never)."""
    owner = movement.user
    transfer_last = Transfer.objects.filter(
        Q(debit_account__owner=owner) | Q(credit_account__owner=owner),
        created_at__lt=movement.at,
    ).aggregate(last=Max("created_at"))["last"]
    screened_last = (
        ScreenedMovement.objects.filter(user=owner, created_at__lt=movement.at)
        .exclude(subject_type=movement.subject_type, subject_id=movement.subject_id)
        .aggregate(last=Max("created_at"))["last"]
    )
    moments = [m for m in (transfer_last, screened_last) if m is not None]
    return max(moments) if moments else owner.date_joined
