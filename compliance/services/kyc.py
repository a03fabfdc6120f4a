"""Staff review of identity (KYC) submissions: approve with a tier, or reject with a reason.

Tier 1 is one reviewer's decision. A tier above the first opens higher limits, the
same effect as a four-eyes tier-limit change, so it is four eyes too: one reviewer
proposes (``identity_approve_propose``), a different one approves
(``kyc_tier_approve``), and ``identity_approve`` refuses any other path.
"""

from __future__ import annotations

from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from accounts.models import Identity, KycStatus
from audit.chain import audit_record
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest, TierLimit
from compliance.permissions import require_perm
from compliance.services.approvals import approval_action_register, approval_propose
from core.errors import InvalidState, NotFound, ValidationFailed

REVIEW_KYC = "compliance.review_kyc"
VIEW_DOCUMENT = "compliance.view_kyc_document"
TIER_APPROVE = "kyc_tier_approve"
SINGLE_REVIEWER_TIER_MAX = 1


def _lock_submitted(identity_id: int) -> Identity:
    identity = Identity.objects.select_for_update().filter(pk=identity_id).first()
    if identity is None:
        raise NotFound("Identity not found")
    if identity.status != KycStatus.SUBMITTED:
        raise InvalidState(f"The identity is {identity.status}, not submitted")
    return identity


def _check_tier(tier: int) -> None:
    tiers = set(TierLimit.objects.values_list("tier", flat=True))
    if tier < 1 or tier not in tiers:
        raise ValidationFailed(
            "Choose a tier that has limits set",
            fields={"tier": [f"Tiers: {sorted(t for t in tiers if t >= 1)}"]},
        )


def _check_four_eyes(actor: Actor, identity_id: int, tier: int,
                     approval: ApprovalRequest | None) -> None:  # fmt: skip
    if tier <= SINGLE_REVIEWER_TIER_MAX:
        return
    actor_id = getattr(actor, "pk", None)
    if (
        approval is None
        or approval.action != TIER_APPROVE
        or approval.target_id != str(identity_id)
        or int(approval.params.get("tier", -1)) != tier
        or approval.approved_by_id != actor_id
        or approval.proposed_by_id == actor_id
    ):
        raise FourEyesViolation(
            f"Tier {tier} needs four eyes: one reviewer proposes, another approves",
            fields={"tier": [f"Above tier {SINGLE_REVIEWER_TIER_MAX}: propose it."]},
        )


def identity_approve(
    *,
    actor: Actor,
    identity_id: int,
    tier: int,
    reason: str = "",
    client_address: str | None = None,
    approval: ApprovalRequest | None = None,
) -> Identity:
    """Approve a submitted identity and give the customer ``tier`` (1 or higher).

    A tier above the first needs ``approval``: the request another reviewer proposed,
    approved now by ``actor`` (the four-eyes executor passes it).
    """
    actor = require_perm(actor, REVIEW_KYC)
    _check_tier(tier)
    _check_four_eyes(actor, identity_id, tier, approval)
    with transaction.atomic():
        identity = _lock_submitted(identity_id)
        if identity.user_id == actor.pk:
            raise ValidationFailed("You cannot review your own identity")
        before = {"status": identity.status, "tier": identity.tier}
        identity.status = KycStatus.APPROVED
        identity.tier = tier
        identity.reviewed_by = actor
        identity.reviewed_at = timezone.now()
        identity.decision_reason = (reason or "").strip()[:500]
        identity.save(
            update_fields=["status", "tier", "reviewed_by", "reviewed_at", "decision_reason"]
        )
        audit_record(
            actor=actor,
            action="identity.approve",
            obj=identity,
            data={
                "before": before,
                "after": {"status": "approved", "tier": tier},
                "reason": identity.decision_reason,
                "approval": approval.pk if approval else None,
            },
            client_address=client_address,
        )
    return identity


def identity_approve_propose(
    *,
    actor: Actor,
    identity_id: int,
    tier: int,
    reason: str,
    client_address: str | None = None,
) -> ApprovalRequest:
    """Propose approving an identity at a tier above the first; a second reviewer approves."""
    actor = require_perm(actor, REVIEW_KYC)
    _check_tier(tier)
    if tier <= SINGLE_REVIEWER_TIER_MAX:
        raise ValidationFailed(
            f"Tier {tier} needs no second reviewer: approve it", fields={"tier": ["Approve."]}
        )
    identity = Identity.objects.filter(pk=identity_id).first()
    if identity is None:
        raise NotFound("Identity not found")
    if identity.status != KycStatus.SUBMITTED:
        raise InvalidState(f"The identity is {identity.status}, not submitted")
    if identity.user_id == actor.pk:
        raise ValidationFailed("You cannot review your own identity")
    return approval_propose(
        actor=actor,
        action=TIER_APPROVE,
        target=identity,
        params={"tier": tier, "user": identity.user_id},
        reason=reason,
        client_address=client_address,
    )


def identity_review_approve(
    *,
    actor: Actor,
    identity_id: int,
    tier: int,
    reason: str = "",
    client_address: str | None = None,
) -> Identity | ApprovalRequest:
    """Approve at tier 1, or propose a higher tier for a second reviewer (the admin's door)."""
    if tier > SINGLE_REVIEWER_TIER_MAX:
        return identity_approve_propose(actor=actor, identity_id=identity_id, tier=tier,
                                        reason=reason, client_address=client_address)  # fmt: skip
    return identity_approve(actor=actor, identity_id=identity_id, tier=tier, reason=reason,
                            client_address=client_address)  # fmt: skip


def _tier_approve_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    identity = identity_approve(
        actor=actor,
        identity_id=int(request.target_id),
        tier=int(request.params["tier"]),
        reason=f"four eyes: {request.reason}",
        approval=request,
    )
    return {"identity_id": identity.pk, "tier": identity.tier}


approval_action_register(
    TIER_APPROVE,
    permission=REVIEW_KYC,
    executor=_tier_approve_execute,
    description=gettext_noop("Approve an identity at a tier above the first"),
)


def identity_reject(
    *, actor: Actor, identity_id: int, reason: str, client_address: str | None = None
) -> Identity:
    """Reject a submitted identity; the customer sees ``reason`` and may submit again."""
    actor = require_perm(actor, REVIEW_KYC)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Tell the customer why", fields={"reason": ["Required."]})
    with transaction.atomic():
        identity = _lock_submitted(identity_id)
        if identity.user_id == actor.pk:
            raise ValidationFailed("You cannot review your own identity")
        identity.status = KycStatus.REJECTED
        identity.reviewed_by = actor
        identity.reviewed_at = timezone.now()
        identity.decision_reason = reason[:500]
        identity.save(update_fields=["status", "reviewed_by", "reviewed_at", "decision_reason"])
        audit_record(
            actor=actor,
            action="identity.reject",
            obj=identity,
            data={"reason": identity.decision_reason},
            client_address=client_address,
        )
    return identity


def identity_document_open(
    *, actor: Actor, identity_id: int, client_address: str | None = None
) -> tuple[IO[bytes], str]:
    """Open an identity's document for a permitted staff member; every view is audited.

    Returns the open file and its file name; the caller streams and closes it.
    """
    actor = require_perm(actor, VIEW_DOCUMENT)
    identity = Identity.objects.filter(pk=identity_id).first()
    if identity is None or not identity.document:
        raise NotFound("No document")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="identity.document_view",
            obj=identity,
            data={"file": identity.document.name},
            client_address=client_address,
        )
    name = str(identity.document.name)
    handle = identity.document.storage.open(name, "rb")
    return handle, name.rsplit("/", 1)[-1]
