"""Pull payments and their payouts, as Greenfield models them (refunds that the payer claims).

A pull payment reserves an amount of the merchant's bitcoin for someone to claim
(``Invoices_Refund`` creates one for the payer). The payer claims it with a payout
to an address (``AwaitingApproval``); the merchant approves (the bank starts a
withdrawal from the merchant's BTC account: ``AwaitingPayment``, then ``InProgress``
once broadcast, ``Completed`` once confirmed) or cancels. Imported by ``models``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PayoutState(models.TextChoices):
    AWAITING_APPROVAL = "AwaitingApproval"
    AWAITING_PAYMENT = "AwaitingPayment"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


class PullPayment(models.Model):
    """An amount of the merchant's bitcoin that its holder may claim with payouts."""

    id = models.CharField(max_length=32, primary_key=True)
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="pull_payments"
    )
    invoice = models.ForeignKey(
        "merchants.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pull_payments",
    )
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=2000, blank=True)
    amount_sats = models.BigIntegerField()
    archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pull payment")
        verbose_name_plural = _("pull payments")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0), name="pull_payment_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"pull payment {self.id} {self.amount_sats} sats"


class PullPaymentPayout(models.Model):
    """A claim on a pull payment: an amount to an address, approved (paid) or cancelled."""

    id = models.CharField(max_length=32, primary_key=True)
    pull_payment = models.ForeignKey(PullPayment, on_delete=models.PROTECT, related_name="payouts")
    destination = models.CharField(max_length=100)
    amount_sats = models.BigIntegerField()
    state = models.CharField(
        max_length=20, choices=PayoutState.choices, default=PayoutState.AWAITING_APPROVAL
    )
    # The withdrawal-backed payout the bank started when the merchant approved.
    payout = models.OneToOneField(
        "merchants.Payout", on_delete=models.PROTECT, null=True, blank=True, related_name="claim"
    )
    revision = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("pull payment payout")
        verbose_name_plural = _("pull payment payouts")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0), name="pull_payout_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"payout {self.id} {self.amount_sats} sats {self.state}"
