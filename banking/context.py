"""Template context for every web-banking page: the unread notifications badge."""

from __future__ import annotations

from django.http import HttpRequest

from notifications.selectors import notifications_unread_count


def unread_notifications(request: HttpRequest) -> dict[str, int]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff:
        return {}
    return {"unread_notifications": notifications_unread_count(user=user)}
