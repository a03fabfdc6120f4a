"""Opening compliance cases. Callers run it inside their own transaction."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models, transaction

from compliance.audit import audit_record
from compliance.models import Case

logger = logging.getLogger("alatau.compliance")


def case_open(
    *,
    kind: str,
    subject: models.Model,
    summary: str,
    findings: list[dict[str, Any]] | None = None,
    customer: Any | None = None,
    amount_minor: int | None = None,
    currency: str = "",
    actor: Any | None = None,
) -> Case:
    """Open a case about ``subject`` and audit it; alert staff after commit."""
    with transaction.atomic():
        case = Case.objects.create(
            kind=kind,
            subject_type=subject._meta.label_lower,
            subject_id=str(subject.pk),
            customer=customer,
            summary=summary[:300],
            findings=findings or [],
            amount_minor=amount_minor,
            currency=currency,
        )
        audit_record(
            actor=actor,
            action="case.open",
            obj=case,
            data={"kind": kind, "subject": f"{case.subject_type}:{case.subject_id}",
                  "summary": case.summary},
        )
        transaction.on_commit(
            lambda: logger.warning(
                "compliance case opened",
                extra={"case_id": case.pk, "kind": kind, "summary": case.summary},
            )
        )
    return case
