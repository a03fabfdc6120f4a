"""Deliver notifications: the email (in the customer's language), read marks, language."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from notifications.models import CustomerLanguage, Notification
from notifications.texts import notification_text

LANGUAGES_KNOWN = ("kk", "ru", "en")


def customer_language_set(*, user: Any, language: str) -> None:
    """Remember the language a customer uses, for the emails they are sent."""
    language = language.split("-")[0]
    if language not in LANGUAGES_KNOWN:
        return
    CustomerLanguage.objects.update_or_create(user=user, defaults={"language": language})


def notification_email_send(*, notification_id: int) -> bool:
    """Email one notification once, in the customer's language; return whether it was sent."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update()
            .select_related("user")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if note is None:
            return False
        chosen = CustomerLanguage.objects.filter(user_id=note.user_id).first()
        language = chosen.language if chosen else settings.LANGUAGE_CODE
        title, body = notification_text(note, language)
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
        send_mail(
            f"Alatau Bank: {title}", body + "\n", settings.DEFAULT_FROM_EMAIL, [note.user.email]
        )
    return True


def notifications_mark_read(*, user: Any) -> int:
    """Mark every unread notification of ``user`` read; return how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
