"""Compliance cases: open, assign, annotate, escalate, close.

``case_open`` is called by other apps inside their own transaction (system
alerts need no permission); every other function is a staff action and checks
the actor's permission first.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils import timezone

from accounts.actor import Actor
from audit.chain import audit_record
from compliance.models import Case, CaseAttachment, CaseDecision, CaseNote, CaseStatus
from compliance.permissions import require_perm
from core.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed

logger = logging.getLogger("alatau.compliance")

WORK_CASE = "compliance.work_case"
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


def case_open(
    *,
    kind: str,
    subject: models.Model,
    summary: str,
    findings: list[dict[str, Any]] | None = None,
    customer: Any | None = None,
    amount_minor: int | None = None,
    currency: str = "",
    actor: Actor = None,
    amount_kzt_tiyn: int | None = None,
) -> Case:
    """Open a case about ``subject`` and audit it; alert staff after commit.

    Without ``amount_kzt_tiyn``, a BTC or KZT amount is valued at today's rate.
    """
    if amount_kzt_tiyn is None and amount_minor is not None and currency in ("BTC", "KZT"):
        from exchange.rates import kzt_value_tiyn

        amount_kzt_tiyn = kzt_value_tiyn(amount_minor=abs(amount_minor), currency=currency)
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
            amount_kzt_tiyn=amount_kzt_tiyn,
        )
        audit_record(
            actor=actor,
            action="case.open",
            obj=case,
            data={
                "kind": kind,
                "subject": f"{case.subject_type}:{case.subject_id}",
                "summary": case.summary,
            },
        )
        transaction.on_commit(
            lambda: logger.warning(
                "compliance case opened",
                extra={"case_id": case.pk, "kind": kind, "summary": case.summary},
            )
        )
    return case


def case_lock(case_id: int) -> Case:
    """Return the case locked for update (call inside a transaction)."""
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound("Case not found")
    return case


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    return reason


def case_assign(
    *, actor: Actor, case_id: int, assignee: Any | None, client_address: str | None = None
) -> Case:
    """Assign the case (``assignee=None`` unassigns); an open case moves to in review."""
    actor = require_perm(actor, WORK_CASE)
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise ValidationFailed(
            "Assign cases to active staff only", fields={"assignee": ["Not staff."]}
        )
    with transaction.atomic():
        case = case_lock(case_id)
        if case.status == CaseStatus.CLOSED:
            raise InvalidState("The case is closed")
        before = case.assignee_id
        case.assignee = assignee
        if assignee is not None and case.status == CaseStatus.OPEN:
            case.status = CaseStatus.IN_REVIEW
        case.save(update_fields=["assignee", "status"])
        audit_record(
            actor=actor,
            action="case.assign",
            obj=case,
            data={"before": before, "after": case.assignee_id},
            client_address=client_address,
        )
    return case


def case_note_add(
    *, actor: Actor, case_id: int, text: str, client_address: str | None = None
) -> CaseNote:
    """Add a note to a case (closed cases too: auditors' findings may follow)."""
    actor = require_perm(actor, WORK_CASE)
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("The note is empty", fields={"text": ["Write something."]})
    with transaction.atomic():
        case = case_lock(case_id)
        note = CaseNote.objects.create(case=case, author=actor, text=text[:10_000])
        audit_record(
            actor=actor,
            action="case.note",
            obj=case,
            data={"note_id": note.pk, "text": note.text[:500]},
            client_address=client_address,
        )
    return note


def case_finding_add(*, case_id: int, finding: dict[str, Any], actor: Actor = None) -> Case:
    """Append a finding to a case (the system reporting what happened since); audited.

    Staff write notes (``case_note_add``); a service that learns more about a case's
    subject (a rebroadcast's outcome, say) appends a finding instead: never edits one.
    """
    with transaction.atomic():
        case = case_lock(case_id)
        case.findings = [*list(case.findings or []), finding]
        case.save(update_fields=["findings"])
        audit_record(actor=actor, action="case.finding", obj=case, data={"finding": finding})
    return case


def case_attach(
    *,
    actor: Actor,
    case_id: int,
    upload: UploadedFile,
    name: str = "",
    client_address: str | None = None,
) -> CaseAttachment:
    """Attach a file (private storage, at most 10 MB) to a case."""
    actor = require_perm(actor, WORK_CASE)
    if upload.size is None or upload.size > ATTACHMENT_MAX_BYTES:
        raise ValidationFailed("The file is too large", fields={"file": ["At most 10 MB."]})
    with transaction.atomic():
        case = case_lock(case_id)
        attachment = CaseAttachment(
            case=case, uploaded_by=actor, name=(name or upload.name or "file")[:120]
        )
        attachment.file.save(upload.name or "file", upload, save=False)
        attachment.save()
        audit_record(
            actor=actor,
            action="case.attach",
            obj=case,
            data={"attachment_id": attachment.pk, "name": attachment.name, "bytes": upload.size},
            client_address=client_address,
        )
    return attachment


def case_escalate(
    *, actor: Actor, case_id: int, reason: str, client_address: str | None = None
) -> Case:
    """Escalate a case to senior compliance with a reason."""
    actor = require_perm(actor, WORK_CASE)
    reason = _require_reason(reason)
    with transaction.atomic():
        case = case_lock(case_id)
        if case.status == CaseStatus.CLOSED:
            raise InvalidState("The case is closed")
        before = case.status
        case.status = CaseStatus.ESCALATED
        case.save(update_fields=["status"])
        CaseNote.objects.create(case=case, author=actor, text=f"Escalated: {reason}")
        audit_record(
            actor=actor,
            action="case.escalate",
            obj=case,
            data={"before": before, "reason": reason},
            client_address=client_address,
        )
    return case


def case_close(
    *, actor: Actor, case_id: int, decision: str, reason: str, client_address: str | None = None
) -> Case:
    """Close a case with a decision and a mandatory reason."""
    actor = require_perm(actor, WORK_CASE)
    return close_checked(
        actor=actor,
        case_id=case_id,
        decision=decision,
        reason=reason,
        client_address=client_address,
    )


def close_checked(
    *, actor: Actor, case_id: int, decision: str, reason: str, client_address: str | None
) -> Case:
    """Close a case for a service that has already checked the actor's permission."""
    reason = _require_reason(reason)
    if decision not in CaseDecision.values:
        raise ValidationFailed("Unknown decision", fields={"decision": [str(decision)]})
    with transaction.atomic():
        case = case_lock(case_id)
        if case.status == CaseStatus.CLOSED:
            raise InvalidState("The case is already closed")
        if case.customer_id is not None and case.customer_id == getattr(actor, "pk", None):
            raise PermissionDenied("You may not decide a case about yourself")
        before = case.status
        case.status = CaseStatus.CLOSED
        case.decision = decision
        case.decision_reason = reason
        case.decided_by = actor
        case.closed_at = timezone.now()
        case.save(
            update_fields=["status", "decision", "decision_reason", "decided_by", "closed_at"]
        )
        audit_record(
            actor=actor,
            action="case.close",
            obj=case,
            data={"before": before, "decision": decision, "reason": reason},
            client_address=client_address,
        )
    return case


def case_attachment_open(
    *, actor: Actor, attachment_id: int, client_address: str | None = None
) -> tuple[IO[bytes], str]:
    """Open a case attachment for permitted staff; every opening is audited."""
    actor = require_perm(actor, "compliance.view_caseattachment")
    attachment = CaseAttachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound("Attachment not found")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="case.attachment_view",
            obj=attachment.case,
            data={"attachment_id": attachment.pk, "name": attachment.name},
            client_address=client_address,
        )
    handle = attachment.file.storage.open(str(attachment.file.name), "rb")
    return handle, attachment.name


def cases_close_for(
    *, subject: models.Model, actor: Actor, decision: str, reason: str, client_address: str | None
) -> int:
    """Close every open case about ``subject`` with the decision just taken on it.

    For a service that decided the subject and checked the actor's permission itself
    (custody's withdrawal review). Returns how many cases were closed.
    """
    open_cases = Case.objects.filter(
        subject_type=subject._meta.label_lower, subject_id=str(subject.pk)
    ).exclude(status=CaseStatus.CLOSED)
    closed = 0
    for case_id in open_cases.values_list("pk", flat=True):
        close_checked(actor=actor, case_id=case_id, decision=decision, reason=reason,
                      client_address=client_address)  # fmt: skip
        closed += 1
    return closed
