"""Reads for the in-app list."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from notifications.models import Notification

LIST_MAX = 100


def notifications_for(*, user: Any, limit: int = LIST_MAX) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-id")[: max(1, min(limit, LIST_MAX))]


def notifications_unread_count(*, user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
