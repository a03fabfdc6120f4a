"""Celery tasks of compliance: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from compliance.services.audit_check import audit_check


@shared_task(name="compliance.tasks.audit_verify_daily", acks_late=True)
def audit_verify_daily() -> int:
    """Verify the audit chain; on a break, log at ERROR and open a case. Return breaks found."""
    return audit_check()
