"""Celery tasks of the merchants app: thin wrappers around services, retry policy here."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from merchants.services.idempotency import idempotency_purge
from merchants.services.invoices import invoice_expire_due
from merchants.services.payout_observer import payouts_observe as payouts_observe_service
from merchants.services.settlement import kzt_settlements_due
from merchants.services.webhooks import (
    ATTEMPTS_MAX,
    webhook_deliveries_due,
    webhook_delivery_attempt,
)


@shared_task(bind=True, max_retries=ATTEMPTS_MAX, acks_late=True, ignore_result=True)
def webhook_deliver(self: Any, delivery_id: str) -> None:
    """Make one delivery attempt; reschedule per the delivery's backoff when it failed."""
    retry_in = webhook_delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(ignore_result=True)
def webhook_deliver_due() -> int:
    """Re-enqueue overdue pending deliveries (a lost task or a broker restart)."""
    due = webhook_deliveries_due()
    for delivery_id in due:
        webhook_deliver.delay(delivery_id)
    return len(due)


@shared_task(ignore_result=True)
def invoice_expire() -> int:
    """Expire invoices whose time ran out (periodic, every few seconds)."""
    return invoice_expire_due()


@shared_task(ignore_result=True)
def idempotency_purge_old() -> int:
    """Forget idempotency keys older than a day (periodic, hourly)."""
    return idempotency_purge()


@shared_task(ignore_result=True)
def kzt_settle_due() -> int:
    """Settle to KZT the invoices whose automatic exchange was deferred (periodic)."""
    return kzt_settlements_due()


@shared_task(ignore_result=True)
def payouts_observe() -> int:
    """Send PayoutUpdated for payouts whose withdrawal moved (periodic catch-up, ~30 s)."""
    return payouts_observe_service()
