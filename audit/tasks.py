"""Celery tasks of the audit log: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from audit.anchors import audit_anchor_publish
from audit.partitions import audit_partitions_ensure


@shared_task(name="audit.tasks.audit_anchor_publish", acks_late=True)
def audit_anchor_publish_task() -> int:
    """Seal the chain head and publish it outside the database; return its sequence number."""
    return audit_anchor_publish().seq


@shared_task(name="audit.tasks.audit_partitions_ensure", acks_late=True)
def audit_partitions_ensure_task() -> int:
    """Create the audit events' partitions for this month and the next ones ahead of need."""
    return audit_partitions_ensure()
