"""The hash-chained audit log: one head row and the append-only events."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditChainHead(models.Model):
    """The single row that orders the audit chain: last sequence number and hash.

    Appending an event updates this row in the same statement that inserts the
    event, so the chain has one order even under concurrent writers.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    last_hash = models.BinaryField(default=b"\x00" * 32)
    prev_hash = models.BinaryField(default=b"\x00" * 32)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")
        db_table = "compliance_auditchainhead"  # kept from when compliance held it

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
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        db_table = "compliance_auditevent"  # kept from when compliance held it
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"
