"""Models of the merchant web door: payment requests, KZT settlements, payout addresses.

Kept apart from ``merchants.models`` (imported at its end, so Django registers them
with the merchants app). Amounts are integers of minor units.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import Currency
from merchants.models import Invoice, InvoicePayment, Merchant, Refund


class PaymentRequest(models.Model):
    """A public link asking for an amount (Greenfield's payment request).

    Paying it creates (or reuses) an invoice through the invoice machinery;
    the request's status follows its invoices.
    """

    id = models.CharField(max_length=32, primary_key=True)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="payment_requests"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, choices=[(c.value, c.value) for c in Currency])
    amount_minor = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)
    reference_id = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    allow_custom_amounts = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment request")
        verbose_name_plural = _("payment requests")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="payreq_merchant_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payreq_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"payment request {self.id} {self.title}"


class PaymentRequestInvoice(models.Model):
    """An invoice made to pay a payment request (one request, many attempts)."""

    payment_request = models.ForeignKey(
        PaymentRequest, on_delete=models.PROTECT, related_name="links"
    )
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment request invoice")
        verbose_name_plural = _("payment request invoices")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.payment_request_id} -> {self.invoice_id}"


class SettlementRateSource(models.TextChoices):
    QUOTE = "quote", "Invoice quote"
    MARKET = "market", "Bid rate at settlement"


class KztSettlement(models.Model):
    """One automatic BTC-to-KZT exchange of what a settled invoice brought in.

    At most one per invoice (the unique invoice is the idempotency key); the
    ledger transfers share ``group_id`` and point at this row as their source.
    """

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="kzt_settlement")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    amount_sats = models.BigIntegerField()
    kzt_tiyn = models.BigIntegerField()
    # Sats paid before the quote expired, converted at the invoice's rate.
    quoted_sats = models.BigIntegerField(default=0)
    quote_rate_tiyn_per_btc = models.BigIntegerField(default=0)
    # Sats paid after it (or a BTC-priced invoice), converted at the bid rate of the day.
    market_sats = models.BigIntegerField(default=0)
    market_rate_tiyn_per_btc = models.BigIntegerField(default=0)
    group_id = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("KZT settlement")
        verbose_name_plural = _("KZT settlements")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0) & Q(kzt_tiyn__gt=0), name="kztsettle_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount_sats=models.F("quoted_sats") + models.F("market_sats")),
                name="kztsettle_parts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"KZT settlement of {self.invoice_id}: {self.amount_sats} sats -> {self.kzt_tiyn}"

    @property
    def rate_tiyn_per_btc(self) -> int:
        """Return the effective rate (KZT per BTC in tiyn), rounded down."""
        return self.kzt_tiyn * 100_000_000 // self.amount_sats


class KztRateSource(models.TextChoices):
    QUOTE = "quote"  # the rate quoted on the invoice (paid while its quote held)
    MARKET = "market"  # the bank's bid rate when the exchange was booked


class KztPaymentSettlement(models.Model):
    """The automatic exchange of one payment that came after its invoice was settled to KZT.

    An overpayment that confirms later, or a late payment to the invoice's address:
    one per payment (the unique payment is the idempotency key). ``kzt_tiyn`` is 0
    when the payment is worth less than a tiyn: it stays in BTC, no transfer.
    """

    payment = models.OneToOneField(
        InvoicePayment, on_delete=models.PROTECT, related_name="kzt_booking"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="kzt_later")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    amount_sats = models.BigIntegerField()
    kzt_tiyn = models.BigIntegerField()
    rate_tiyn_per_btc = models.BigIntegerField()
    rate_source = models.CharField(max_length=8, choices=KztRateSource.choices)
    group_id = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0) & Q(kzt_tiyn__gte=0) & Q(rate_tiyn_per_btc__gt=0),
                name="kztpay_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"KZT settlement of payment {self.payment_id}: {self.amount_sats} -> {self.kzt_tiyn}"


class RefundKztExchange(models.Model):
    """The KZT a KZT-settled store paid to buy back a refund's bitcoin, at the bank's ask.

    Of an instant refund (``refund``) or of a paid claim on an invoice's refund pull
    payment (``payout``, Greenfield's refund): exactly one of the two, each at most once.
    ``amount_sats`` is what the refund takes from the store's BTC account (on-chain:
    the amount plus the withdrawal fee); ``kzt_tiyn`` rounded up.
    """

    refund = models.OneToOneField(
        Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="kzt_exchange"
    )
    payout = models.OneToOneField(
        "merchants.PullPaymentPayout",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="kzt_exchange",
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    amount_sats = models.BigIntegerField()
    kzt_tiyn = models.BigIntegerField()
    rate_tiyn_per_btc = models.BigIntegerField()
    group_id = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0) & Q(kzt_tiyn__gt=0) & Q(rate_tiyn_per_btc__gt=0),
                name="refundkzt_positive",
            ),
            models.CheckConstraint(
                condition=(Q(refund__isnull=False) & Q(payout__isnull=True))
                | (Q(refund__isnull=True) & Q(payout__isnull=False)),
                name="refundkzt_one_source",
            ),
        ]

    def __str__(self) -> str:
        source = f"refund {self.refund_id}" if self.refund_id else f"payout {self.payout_id}"
        return f"KZT buy-back of {source}: {self.kzt_tiyn} -> {self.amount_sats}"


class PayoutAddress(models.Model):
    """An address on a store's payout allow-list: added with 2FA, usable after a cool-down."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="payout_addresses"
    )
    label = models.CharField(max_length=60)
    address = models.CharField(max_length=100)
    usable_from = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("payout address")
        verbose_name_plural = _("payout addresses")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "address"],
                condition=Q(removed_at__isnull=True),
                name="payout_address_unique_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.address}"
