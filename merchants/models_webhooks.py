"""Merchants' webhooks, their deliveries and each delivery's attempts (BTCPay's model)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Invoice, Merchant


class WebhookEvent(models.TextChoices):
    INVOICE_CREATED = "InvoiceCreated"
    INVOICE_RECEIVED_PAYMENT = "InvoiceReceivedPayment"
    INVOICE_PAYMENT_SETTLED = "InvoicePaymentSettled"
    INVOICE_PROCESSING = "InvoiceProcessing"
    INVOICE_EXPIRED = "InvoiceExpired"
    INVOICE_SETTLED = "InvoiceSettled"
    INVOICE_INVALID = "InvoiceInvalid"
    PAYOUT_CREATED = "PayoutCreated"
    PAYOUT_APPROVED = "PayoutApproved"
    PAYOUT_UPDATED = "PayoutUpdated"


# Every event name BTCPay's Greenfield knows: a webhook may ask for any of them
# (clients register the full list); Alatau sends those it has (``WebhookEvent``).
GREENFIELD_EVENTS: tuple[str, ...] = (
    *WebhookEvent.values,
    "PaymentRequestCreated",
    "PaymentRequestUpdated",
    "PaymentRequestArchived",
    "PaymentRequestStatusChanged",
    "SubscriberCreated",
    "SubscriberCredited",
    "SubscriberCharged",
    "SubscriberActivated",
    "SubscriberPhaseChanged",
    "SubscriberDisabled",
    "PaymentReminder",
    "PlanStarted",
    "SubscriberNeedUpgrade",
)


class Webhook(models.Model):
    """A merchant's endpoint for signed event deliveries."""

    id = models.CharField(max_length=32, primary_key=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2000)
    secret = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    automatic_redelivery = models.BooleanField(default=True)
    everything = models.BooleanField(default=True)
    specific_events = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"webhook {self.id} -> {self.url}"

    def wants(self, event_type: str) -> bool:
        return self.enabled and (self.everything or event_type in self.specific_events)


class DeliveryStatus(models.TextChoices):
    PENDING = "Pending"
    HTTP_SUCCESS = "HttpSuccess"
    HTTP_ERROR = "HttpError"
    FAILED = "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook; its body is fixed once created."""

    id = models.CharField(max_length=32, primary_key=True)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=32, choices=WebhookEvent.choices)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    original = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="redeliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    http_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While an attempt is in flight: the worker that claimed it owns it until then.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_due",
                condition=Q(status="Pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.id} {self.event_type} {self.status}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"
