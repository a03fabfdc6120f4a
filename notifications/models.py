"""What the bank told a customer (in the app and by email), and where the collector is."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    DEPOSIT_SEEN = "deposit_seen", "Deposit seen"
    DEPOSIT_CREDITED = "deposit_credited", "Deposit credited"
    WITHDRAWAL_SENT = "withdrawal_sent", "Withdrawal sent"
    WITHDRAWAL_CONFIRMED = "withdrawal_confirmed", "Withdrawal confirmed"
    TRANSFER_RECEIVED = "transfer_received", "Transfer received"
    NEW_DEVICE_LOGIN = "new_device_login", "Login from a new device"
    TWOFACTOR_CHANGED = "twofactor_changed", "Two-factor authentication changed"
    WITHDRAWAL_ADDRESS_ADDED = "withdrawal_address_added", "New withdrawal address"
    KYC_DECIDED = "kyc_decided", "Identity decision"
    ACCOUNT_FROZEN = "account_frozen", "Account frozen"


class Notification(models.Model):
    """One thing a customer is told. ``data`` holds figures only: never a code, key or link."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    # What it is about, unique per kind ("audit:123", "deposit:45"): collected once.
    source = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "source"], name="notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}"


class CollectorCursor(models.Model):
    """How far the collector has read one feed (audit events, deposits, sessions)."""

    feed = models.CharField(max_length=32, primary_key=True)
    position = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("collector cursor")
        verbose_name_plural = _("collector cursors")

    def __str__(self) -> str:
        return f"{self.feed} at {self.position}"


class KnownDevice(models.Model):
    """A browser a customer has logged in from, so a new one can be told about."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user_agent_sha256 = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("known device")
        verbose_name_plural = _("known devices")
        constraints = [
            models.UniqueConstraint(fields=["user", "user_agent_sha256"], name="device_once"),
        ]

    def __str__(self) -> str:
        return f"device of user {self.user_id}"


class CustomerLanguage(models.Model):
    """The language a customer last used the web bank in: their emails use it too."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    language = models.CharField(max_length=8)

    class Meta:
        verbose_name = _("customer language")
        verbose_name_plural = _("customer languages")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"
