"""The daily audit-chain check: verify, and on a break alert staff with a case."""

from __future__ import annotations

import logging

from django.db import transaction

from audit.anchors import audit_anchors_verify
from audit.chain import audit_verify
from audit.models import AuditChainHead
from compliance.models import Case, CaseKind, CaseStatus
from compliance.services.cases import case_open

logger = logging.getLogger("alatau.compliance")


def audit_check() -> int:
    """Run ``audit_verify`` and the anchor check; on breaks log at ERROR and open one case (unless one is open).

    Returns the number of breaks. Idempotent: a second run while the case is
    open adds no second case.
    """
    breaks = [*audit_verify(), *audit_anchors_verify()]
    if not breaks:
        logger.info("audit chain intact")
        return 0
    described = [{"rule": "audit_chain", "seq": b.seq, "detail": b.problem} for b in breaks[:100]]
    logger.error("audit chain BROKEN", extra={"breaks": len(breaks), "first": described[:5]})
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            return len(breaks)
        already = (
            Case.objects.filter(
                kind=CaseKind.OTHER, subject_type=AuditChainHead._meta.label_lower, subject_id="1"
            )
            .exclude(status=CaseStatus.CLOSED)
            .exists()
        )
        if not already:
            case_open(
                kind=CaseKind.OTHER,
                subject=head,
                summary=f"Audit log tampering: {len(breaks)} break(s) in the hash chain",
                findings=described,
            )
    return len(breaks)
