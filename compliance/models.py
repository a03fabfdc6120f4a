"""Compliance state: audit log, cases, screening rules, limits, sanctions, four eyes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class CaseKind(models.TextChoices):
    WITHDRAWAL_REVIEW = "withdrawal_review"
    DEPOSIT_REORG = "deposit_reorg"
    DEPOSIT_SUSPENSE = "deposit_suspense"
    SANCTIONS = "sanctions"
    RECONCILIATION = "reconciliation"
    KYC = "kyc"
    OTHER = "other"


class CaseStatus(models.TextChoices):
    OPEN = "open"
    IN_REVIEW = "in_review"
    ESCALATED = "escalated"
    CLOSED = "closed"


class CaseDecision(models.TextChoices):
    APPROVED = "approved"
    REJECTED = "rejected"
    CLEARED = "cleared", "cleared (no concern)"
    SUSPICIOUS = "suspicious"


class Case(models.Model):
    """A compliance case: an alert tied to its subject, worked to a decision."""

    kind = models.CharField(max_length=32, choices=CaseKind.choices)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    subject_type = models.CharField(max_length=64, help_text=_("app_label.model of the subject"))
    subject_id = models.CharField(max_length=64)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.CharField(max_length=300)
    # Rules that fired, with their figures: [{"rule": ..., "detail": ..., ...}].
    findings = models.JSONField(default=list, blank=True)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # The amount's KZT equivalent at the time of the movement, for queues and reports.
    amount_kzt_tiyn = models.BigIntegerField(null=True, blank=True, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=32, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="case_closed_has_decision_and_reason",
                condition=~Q(status="closed") | (~Q(decision="") & ~Q(decision_reason="")),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind"]),
            models.Index(fields=["subject_type", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} {self.kind} {self.status}"


def _case_attachment_path(instance: CaseAttachment, filename: str) -> str:
    return f"cases/{instance.case_id}/{uuid.uuid4().hex}-{filename[-80:]}"


class CaseNote(models.Model):
    """A staff note on a case. Notes are never edited; add another one."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("case note")
        verbose_name_plural = _("case notes")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"note {self.pk} on case {self.case_id}"


class CaseAttachment(models.Model):
    """A file attached to a case, kept in private storage and served by a checked view."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to=_case_attachment_path)
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("case attachment")
        verbose_name_plural = _("case attachments")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name


class StaffPermission(models.Model):
    """Holder of the staff permissions that belong to no single model (no table)."""

    class Meta:
        verbose_name = _("staff permission")
        verbose_name_plural = _("staff permissions")
        managed = False
        default_permissions = ()
        permissions = [
            ("review_kyc", "Approve or reject identity (KYC) submissions"),
            ("view_kyc_document", "Open customers' identity documents"),
            ("freeze_account", "Freeze a customer account"),
            ("unfreeze_account", "Unfreeze a customer account (four eyes)"),
            ("work_case", "Assign, annotate, escalate and close cases"),
            ("manage_rules", "Change screening rule settings"),
            ("manage_sanctions", "Maintain and import the sanctions list"),
            ("change_limits", "Propose and approve tier limit changes (four eyes)"),
            ("approve_cold_move", "Propose and approve cold-wallet moves (four eyes)"),
            ("view_reports", "Download compliance and finance reports"),
            ("correct_ledger", "Propose and approve ledger corrections (four eyes)"),
            ("manage_staff", "Propose and approve staff role changes (four eyes)"),
        ]

    def __str__(self) -> str:
        return "staff permission"


class RuleConfig(models.Model):
    """A screening rule's switch and integer thresholds, editable by staff."""

    name = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("screening rule")
        verbose_name_plural = _("screening rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RuleConfigVersion(models.Model):
    """One version of a rule's settings and the moment it took effect (append-only).

    A database trigger writes a row on every insert or update of ``RuleConfig``, whatever
    wrote it, at the database's clock; the four-eyes executor says which approval it was
    (``approval`` is empty for a change made outside the engine: a migration, a shell).
    A decision waiting since time T is made with the version in force at T.
    """

    name = models.CharField(max_length=64)
    enabled = models.BooleanField()
    params = models.JSONField(default=dict)
    effective_at = models.DateTimeField()
    approval = models.ForeignKey(
        "ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("screening rule version")
        verbose_name_plural = _("screening rule versions")
        ordering = ["name", "-effective_at"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["name", "effective_at"])]

    def __str__(self) -> str:
        return f"{self.name} from {self.effective_at:%Y-%m-%d %H:%M:%S}"


class SanctionedAddress(models.Model):
    """A bitcoin address on the sanctions list: withdrawals to it are blocked."""

    address = models.CharField(max_length=100, unique=True)
    source = models.CharField(max_length=120, blank=True, help_text=_("list or authority"))
    note = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sanctioned address")
        verbose_name_plural = _("sanctioned addresses")
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class LimitKind(models.TextChoices):
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"


class TierLimit(models.Model):
    """Limits of one KYC tier for one kind of outgoing movement, in KZT tiyn."""

    tier = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=LimitKind.choices)
    per_transaction_tiyn = models.BigIntegerField()
    daily_tiyn = models.BigIntegerField()
    monthly_tiyn = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("tier limit")
        verbose_name_plural = _("tier limits")
        ordering = ["tier", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "kind"], name="tierlimit_one_per_tier_kind"),
            models.CheckConstraint(
                name="tierlimit_nonnegative",
                condition=Q(per_transaction_tiyn__gte=0)
                & Q(daily_tiyn__gte=0)
                & Q(monthly_tiyn__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return f"tier {self.tier} {self.kind}"


class ScreenedMovement(models.Model):
    """One outgoing movement as the rules saw it: history for velocity and the like."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount_kzt_tiyn = models.BigIntegerField()
    address = models.CharField(max_length=100, blank=True, db_index=True)
    decision = models.CharField(max_length=8)
    findings = models.JSONField(default=list, blank=True)
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("screened movement")
        verbose_name_plural = _("screened movements")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "kind", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id"], name="screenedmovement_once_per_subject"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}:{self.subject_id} {self.decision}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending"
    EXECUTED = "executed", "approved and executed"
    REJECTED = "rejected"


class ApprovalRequest(models.Model):
    """A four-eyes request: one staff member proposes, a different one approves."""

    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    reason = models.TextField()
    status = models.CharField(
        max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="approval_four_eyes",
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("proposed_by")),
            ),
            models.UniqueConstraint(
                fields=["action", "target_type", "target_id"],
                condition=Q(status="pending"),
                name="approval_one_pending_per_target",
            ),
        ]
        indexes = [models.Index(fields=["status", "action"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} ({self.status})"
