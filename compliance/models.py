"""Compliance state: the hash-chained audit log (more models join as they land)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditChainHead(models.Model):
    """The single row that orders the audit chain: last sequence number and hash.

    Appending an event updates this row in the same statement that inserts the
    event, so the chain has one order even under concurrent writers.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    last_hash = models.BinaryField(default=b"\x00" * 32)
    prev_hash = models.BinaryField(default=b"\x00" * 32)

    def __str__(self) -> str:
        return f"audit head seq={self.seq}"


class AuditEvent(models.Model):
    """One append-only audit record. ``hash = sha256(prev_hash || payload)``.

    ``payload`` is the canonical JSON of the event; the other columns are
    copies of its fields for filtering, and ``audit_verify`` checks that they
    still match it. A trigger refuses UPDATE and DELETE.
    """

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict)
    payload = models.TextField()
    prev_hash = models.BinaryField()
    hash = models.BinaryField()

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


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


class Case(models.Model):
    """A compliance case: an alert tied to its subject, worked to a decision."""

    kind = models.CharField(max_length=32, choices=CaseKind.choices)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    subject_type = models.CharField(max_length=64, help_text="app_label.model of the subject")
    subject_id = models.CharField(max_length=64)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.CharField(max_length=300)
    # Rules that fired, with their figures: [{"rule": ..., "detail": ..., ...}].
    findings = models.JSONField(default=list, blank=True)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
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
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "kind"]),
            models.Index(fields=["subject_type", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} {self.kind} {self.status}"
