"""Periodic ledger jobs. Thin: each calls one service."""

from __future__ import annotations

from celery import shared_task

from accounts.partitions import transfer_partitions_ensure
from accounts.services.holds import hold_expire_due


@shared_task(name="accounts.tasks.holds_expire")
def holds_expire() -> int:
    """Release holds whose expiry has passed (bounded per run)."""
    return hold_expire_due()


@shared_task(name="accounts.tasks.transfer_partitions_ensure", acks_late=True)
def transfer_partitions_ensure_task() -> int:
    """Create the transfers' partitions for this month and the next ones ahead of need."""
    return transfer_partitions_ensure()
