"""Tier limits: the check other apps call before money leaves, and four-eyes changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop

from accounts.actor import Actor
from accounts.models import Hold, HoldStatus, Identity, KycStatus, Transfer, User
from audit.chain import audit_record
from compliance.errors import LimitExceeded
from compliance.models import ApprovalRequest, LimitKind, TierLimit
from compliance.services.approvals import approval_action_register, approval_propose
from core.errors import ValidationFailed
from exchange.rates import kzt_value_tiyn

# Ledger codes that count towards each limit kind.
_CODES = {LimitKind.WITHDRAWAL: ("withdrawal",), LimitKind.TRANSFER: ("internal", "payment")}
LIMIT_FIELDS = ("per_transaction_tiyn", "daily_tiyn", "monthly_tiyn")
CHANGE_LIMITS = "compliance.change_limits"


def user_tier(user: Any) -> int:
    """Return the customer's KYC tier (0 unless an approved identity says otherwise)."""
    identity = Identity.objects.filter(user=user, status=KycStatus.APPROVED).first()
    return identity.tier if identity else 0


def _used_tiyn(user: Any, kind: str, since: datetime, exclude_hold_id: int | None) -> int:
    """KZT already sent since ``since``: posted transfers plus open withdrawal holds.

    Transfers carry their KZT value from the time they moved; the few without one
    (and open holds) are valued at today's rate.
    """
    posted = Transfer.objects.filter(
        debit_account__owner=user,
        code__in=_CODES[LimitKind(kind)],
        created_at__gte=since,
        reversed_by__isnull=True,
    )
    total = int(posted.aggregate(total=Sum("kzt_value_tiyn"))["total"] or 0)
    unvalued = (
        posted.filter(kzt_value_tiyn__isnull=True)
        .values("currency")
        .annotate(total=Sum("amount_minor"))
    )
    for row in unvalued:
        total += kzt_value_tiyn(amount_minor=int(row["total"]), currency=row["currency"])
    if kind == LimitKind.WITHDRAWAL:
        holds = (
            Hold.objects.filter(
                account__owner=user, code="withdrawal", status=HoldStatus.OPEN,
                created_at__gte=since,
            )
            .exclude(pk=exclude_hold_id or 0)
            .values("account__currency")
            .annotate(total=Sum("amount_minor"))
        )  # fmt: skip
        for held in holds:
            total += kzt_value_tiyn(
                amount_minor=int(held["total"]), currency=held["account__currency"]
            )
    return total


def limits_check(
    *, user: Any, kind: str, amount_kzt_tiyn: int, exclude_hold_id: int | None = None
) -> None:
    """Raise ``LimitExceeded`` if this movement would pass a limit of the user's tier.

    Call it inside the transaction that creates the hold or transfer, before
    creating it: it locks the user's row so two concurrent requests of one
    customer are checked one after the other. Open withdrawal holds count as used;
    pass ``exclude_hold_id`` when the movement's own hold already exists. "Daily"
    and "monthly" are the rolling last 24 hours and 30 days.
    """
    if kind not in LimitKind.values:
        raise ValidationFailed("Unknown limit kind", fields={"kind": [str(kind)]})
    if amount_kzt_tiyn < 0:
        raise ValidationFailed("Amount must not be negative")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        tier = user_tier(user)
        limit = TierLimit.objects.filter(tier=tier, kind=kind).first()
        if limit is None:
            message = f"No {kind} limits are set for tier {tier}"
            raise LimitExceeded(message, fields={"amount": [message]})
        if amount_kzt_tiyn > limit.per_transaction_tiyn:
            _exceeded("per_transaction", limit.per_transaction_tiyn, amount_kzt_tiyn, tier)
        now = timezone.now()
        day_used = _used_tiyn(user, kind, now - timedelta(days=1), exclude_hold_id)
        if day_used + amount_kzt_tiyn > limit.daily_tiyn:
            _exceeded("daily", limit.daily_tiyn, day_used + amount_kzt_tiyn, tier)
        month_used = _used_tiyn(user, kind, now - timedelta(days=30), exclude_hold_id)
        if month_used + amount_kzt_tiyn > limit.monthly_tiyn:
            _exceeded("monthly", limit.monthly_tiyn, month_used + amount_kzt_tiyn, tier)


# The customer reads these (in their language) next to the amount they typed.
LIMIT_MESSAGES = {
    "per_transaction": gettext_lazy(
        "This is over your per-transaction limit of %(limit)s KZT (tier %(tier)s)"
    ),
    "daily": gettext_lazy("This is over your daily limit of %(limit)s KZT (tier %(tier)s)"),
    "monthly": gettext_lazy("This is over your monthly limit of %(limit)s KZT (tier %(tier)s)"),
}


def _exceeded(period: str, limit_tiyn: int, would_be_tiyn: int, tier: int) -> None:
    # The message is the customer's, shown next to the amount field whichever door
    # asked; the figures for staff are in the audit trail of the refused movement.
    amount = f"{limit_tiyn // 100:,}".replace(",", "\u202f")
    message = str(LIMIT_MESSAGES[period]) % {"limit": amount, "tier": tier}
    raise LimitExceeded(message, fields={"amount": [message]})


def tier_limit_propose(
    *,
    actor: Actor,
    tier: int,
    kind: str,
    per_transaction_tiyn: int,
    daily_tiyn: int,
    monthly_tiyn: int,
    reason: str,
    client_address: str | None = None,
) -> ApprovalRequest:
    """Propose new limits for one tier and kind; a second person approves (four eyes)."""
    values = {
        "per_transaction_tiyn": per_transaction_tiyn,
        "daily_tiyn": daily_tiyn,
        "monthly_tiyn": monthly_tiyn,
    }
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**15:
            raise ValidationFailed(
                "Limits are whole tiyn between 0 and 10^15", fields={name: ["Out of range."]}
            )
    if not per_transaction_tiyn <= daily_tiyn <= monthly_tiyn:
        raise ValidationFailed(
            "Limits must satisfy per transaction <= daily <= monthly",
            fields={"daily_tiyn": ["Inconsistent."]},
        )
    limit = TierLimit.objects.filter(tier=tier, kind=kind).first()
    if kind not in LimitKind.values or tier < 0:
        raise ValidationFailed("Unknown tier or kind", fields={"kind": [str(kind)]})
    before = {f: getattr(limit, f) for f in LIMIT_FIELDS} if limit else {}
    return approval_propose(
        actor=actor,
        action="limit_change",
        target_type="compliance.tierlimit",
        target_id=f"{tier}:{kind}",
        params={"tier": tier, "kind": kind, "before": before, "after": values},
        reason=reason,
        client_address=client_address,
    )


def _limit_change_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    tier, kind, after = request.params["tier"], request.params["kind"], request.params["after"]
    with transaction.atomic():
        limit = TierLimit.objects.select_for_update().filter(tier=tier, kind=kind).first()
        if limit is None:
            limit = TierLimit(tier=tier, kind=kind)
        before = {f: getattr(limit, f, None) for f in LIMIT_FIELDS}
        for name in LIMIT_FIELDS:
            setattr(limit, name, int(after[name]))
        limit.save()
        audit_record(
            actor=actor,
            action="tierlimit.change",
            obj=limit,
            data={
                "before": before,
                "after": after,
                "approval": request.pk,
                "proposed_by": request.proposed_by_id,
            },
        )
    return {"tier_limit_id": limit.pk}


approval_action_register(
    "limit_change",
    permission=CHANGE_LIMITS,
    executor=_limit_change_execute,
    description=gettext_noop("Change the limits of a KYC tier"),
)
