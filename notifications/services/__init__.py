"""Notifications: collect what happened from the layers below, tell the customer once."""

from notifications.services.collect import notifications_collect
from notifications.services.deliver import (
    customer_language_set,
    notification_email_send,
    notifications_mark_read,
)

__all__ = [
    "customer_language_set",
    "notification_email_send",
    "notifications_collect",
    "notifications_mark_read",
]
