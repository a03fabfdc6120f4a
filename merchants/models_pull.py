"""Pull payments and payouts, as Greenfield models them.

A pull payment reserves an amount of the merchant's bitcoin for someone to claim
(``Invoices_Refund`` creates one for the payer; ``PullPayments_CreatePullPayment`` a
general one). Its holder claims it with a payout to an address (``AwaitingApproval``);
the merchant approves (the bank starts a withdrawal from the merchant's BTC account:
``AwaitingPayment``, then ``InProgress`` once batched, ``Completed`` once confirmed)
or cancels. A store may also create a payout with no pull payment
(``Payouts_CreatePayoutThroughStore``); every on-chain payout of the store, whichever
door made it, has one ``PullPaymentPayout`` row: Greenfield's ``PayoutData``.
Imported by ``models``.
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
    # Claims are refused before ``starts_at`` and after ``expires_at`` (either may be unset).
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
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
    """A Greenfield payout: an amount to an address, approved (paid by the bank) or cancelled.

    A claim on a pull payment, or the store's own payout (``pull_payment`` unset).
    """

    id = models.CharField(max_length=32, primary_key=True)
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="greenfield_payouts"
    )
    pull_payment = models.ForeignKey(
        PullPayment, on_delete=models.PROTECT, null=True, blank=True, related_name="payouts"
    )
    destination = models.CharField(max_length=100)
    amount_sats = models.BigIntegerField()
    state = models.CharField(
        max_length=20, choices=PayoutState.choices, default=PayoutState.AWAITING_APPROVAL
    )
    # The withdrawal-backed payout the bank started when the merchant approved.
    payout = models.OneToOneField(
        "merchants.Payout", on_delete=models.PROTECT, null=True, blank=True, related_name="claim"
    )
    # The last state the store's webhooks were told of (``payout_observer``): compared and
    # set under the row lock, so each change of the withdrawal behind it is sent once.
    notified_state = models.CharField(
        max_length=20, choices=PayoutState.choices, default=PayoutState.AWAITING_APPROVAL
    )
    revision = models.PositiveIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    payment_proof = models.JSONField(null=True, blank=True)
    # The beneficiary data (cleaned) the store gave with its own payout, used at approval.
    travel_rule = models.JSONField(null=True, blank=True)
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
        indexes = [
            # The observer's scan: approved payouts not yet told Completed or Cancelled.
            models.Index(
                fields=["notified_state"],
                name="pull_payout_observe_idx",
                condition=Q(state="AwaitingPayment")
                & Q(notified_state__in=["AwaitingPayment", "InProgress"]),
            ),
            # The duplicate-destination check.
            models.Index(fields=["merchant", "destination"], name="pull_payout_dest_idx"),
        ]

    def __str__(self) -> str:
        return f"payout {self.id} {self.amount_sats} sats {self.state}"
