"""Periodic ledger jobs. Thin: each calls one service."""

from __future__ import annotations

from celery import shared_task

from accounts.services.holds import hold_expire_due


@shared_task(name="accounts.tasks.holds_expire")
def holds_expire() -> int:
    """Release holds whose expiry has passed (bounded per run)."""
    return hold_expire_due()
