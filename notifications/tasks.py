"""Celery tasks: thin and idempotent (a notification is collected and emailed once)."""

from __future__ import annotations

from celery import shared_task

from notifications import services


@shared_task
def notifications_collect() -> int:
    """Turn new audit events, deposits and logins into notifications; email each.

    The collector has committed when it returns, so each email task finds its row.
    """
    created = services.notifications_collect()
    for notification_id in created:
        notification_email.delay(notification_id)
    return len(created)


@shared_task(autoretry_for=(OSError,), retry_backoff=10, retry_backoff_max=600, max_retries=8)
def notification_email(notification_id: int) -> bool:
    """Email one notification (no-op if already sent)."""
    return services.notification_email_send(notification_id=notification_id)
