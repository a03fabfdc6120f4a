"""Staff review of identity (KYC) submissions: approve with a tier, or reject with a reason."""

from __future__ import annotations

from typing import IO

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import Identity, KycStatus
from audit.chain import audit_record
from compliance.models import TierLimit
from compliance.permissions import require_perm
from core.errors import InvalidState, NotFound, ValidationFailed

REVIEW_KYC = "compliance.review_kyc"
VIEW_DOCUMENT = "compliance.view_kyc_document"


def _lock_submitted(identity_id: int) -> Identity:
    identity = Identity.objects.select_for_update().filter(pk=identity_id).first()
    if identity is None:
        raise NotFound("Identity not found")
    if identity.status != KycStatus.SUBMITTED:
        raise InvalidState(f"The identity is {identity.status}, not submitted")
    return identity


def identity_approve(
    *,
    actor: Actor,
    identity_id: int,
    tier: int,
    reason: str = "",
    client_address: str | None = None,
) -> Identity:
    """Approve a submitted identity and give the customer ``tier`` (1 or higher)."""
    actor = require_perm(actor, REVIEW_KYC)
    tiers = set(TierLimit.objects.values_list("tier", flat=True))
    if tier < 1 or tier not in tiers:
        raise ValidationFailed(
            "Choose a tier that has limits set",
            fields={"tier": [f"Tiers: {sorted(t for t in tiers if t >= 1)}"]},
        )
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
            },
            client_address=client_address,
        )
    return identity


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
