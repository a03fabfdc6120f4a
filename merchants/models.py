"""Merchants, their API keys, invoices and payments, webhooks and their deliveries.

Amounts are integers of minor units: ``*_sats`` for bitcoin, ``amount_minor``
in the invoice's own currency (satoshi for BTC, tiyn for KZT, cents for USD/EUR).
"""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import PRICE_DECIMALS, Currency

# BTC, KZT and the fiat price currencies (which are offered: the exchange desk's rates).
INVOICE_CURRENCIES = [(str(code), str(code)) for code in [*Currency, *PRICE_DECIMALS]]


class MerchantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Merchant(models.Model):
    """A partner business that takes payments; a BTCPay "store" to its API clients."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="merchants"
    )
    status = models.CharField(
        max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.ACTIVE
    )
    store_id = models.CharField(max_length=64, unique=True)
    btc_account = models.OneToOneField(
        "accounts.Account", on_delete=models.PROTECT, related_name="merchant_btc"
    )
    kzt_account = models.OneToOneField(
        "accounts.Account",
        on_delete=models.PROTECT,
        related_name="merchant_kzt",
        null=True,
        blank=True,
    )
    # Guaranteed KZT price: every settled invoice is exchanged to KZT at its quote.
    settle_to_kzt = models.BooleanField(default=False)
    # Greenfield's StoreData.defaultCurrency: an invoice created without a currency.
    default_currency = models.CharField(max_length=3, choices=INVOICE_CURRENCIES, default="BTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.store_id})"

    @property
    def is_active(self) -> bool:
        return self.status == MerchantStatus.ACTIVE


class ApiKey(models.Model):
    """A merchant API key. Only a sha256 of the token is stored; the prefix finds the row."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class InvoiceStatus(models.TextChoices):
    NEW = "New"
    PROCESSING = "Processing"
    SETTLED = "Settled"
    EXPIRED = "Expired"
    INVALID = "Invalid"


class AdditionalStatus(models.TextChoices):
    NONE = "None"
    PAID_PARTIAL = "PaidPartial"
    PAID_OVER = "PaidOver"
    PAID_LATE = "PaidLate"
    MARKED = "Marked"
    INVALID = "Invalid"


class SpeedPolicy(models.TextChoices):
    HIGH = "HighSpeed"
    MEDIUM = "MediumSpeed"
    LOW_MEDIUM = "LowMediumSpeed"
    LOW = "LowSpeed"


CONFIRMATIONS_FOR_SPEED: dict[str, int] = {
    SpeedPolicy.HIGH: 0,
    SpeedPolicy.MEDIUM: 1,
    SpeedPolicy.LOW_MEDIUM: 2,
    SpeedPolicy.LOW: 6,
}


class InvoiceType(models.TextChoices):
    STANDARD = "Standard"
    TOP_UP = "TopUp"  # no amount: any payment counts as payment in full


MONITORING_MINUTES_DEFAULT = 24 * 60


class Invoice(models.Model):
    """A request for payment in BTC, or in KZT/USD/EUR with its BTC due fixed at a rate.

    A top-up invoice has no amount (``amount_minor`` and ``amount_sats`` are 0):
    whatever is paid is the amount.
    """

    id = models.CharField(max_length=32, primary_key=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="invoices")
    currency = models.CharField(max_length=3, choices=INVOICE_CURRENCIES)
    amount_minor = models.BigIntegerField()
    amount_sats = models.BigIntegerField()
    # Invoice-currency minor units per 1 BTC at creation (tiyn, cents); 0 for BTC invoices.
    rate_minor_per_btc = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.NEW
    )
    additional_status = models.CharField(
        max_length=16, choices=AdditionalStatus.choices, default=AdditionalStatus.NONE
    )
    speed_policy = models.CharField(
        max_length=16, choices=SpeedPolicy.choices, default=SpeedPolicy.MEDIUM
    )
    required_confirmations = models.PositiveSmallIntegerField(default=1)
    # Payment tolerance in hundredths of a percent (0..10000).
    tolerance_bp = models.PositiveIntegerField(default=0)
    expiration_minutes = models.PositiveIntegerField(default=15)
    monitoring_minutes = models.PositiveIntegerField(default=MONITORING_MINUTES_DEFAULT)
    invoice_type = models.CharField(
        max_length=8, choices=InvoiceType.choices, default=InvoiceType.STANDARD
    )
    # The payment methods the merchant allowed for this invoice ([] = all of them).
    payment_methods = models.JSONField(default=list, blank=True)
    default_payment_method = models.CharField(max_length=16, blank=True)
    redirect_url = models.CharField(max_length=2000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    order_id = models.CharField(max_length=200, blank=True, db_index=True)
    destination = models.CharField(max_length=100, blank=True)
    deposit_address_id = models.BigIntegerField(null=True, blank=True, unique=True)
    paid_sats = models.BigIntegerField(default=0)
    settled_sats = models.BigIntegerField(default=0)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="invoice_merchant_created"),
            models.Index(fields=["merchant", "order_id"], name="invoice_merchant_order"),
            models.Index(
                fields=["expires_at"],
                name="invoice_new_by_expiry",
                condition=Q(status="New"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(amount_minor__gt=0) & Q(amount_sats__gt=0))
                | (Q(invoice_type="TopUp") & Q(amount_minor=0) & Q(amount_sats=0)),
                name="invoice_amounts_positive_unless_topup",
            ),
            models.CheckConstraint(
                condition=Q(paid_sats__gte=0) & Q(settled_sats__gte=0),
                name="invoice_paid_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(tolerance_bp__lte=10000), name="invoice_tolerance_max_100_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"invoice {self.id} {self.status}"

    @property
    def rate_tiyn_per_btc(self) -> int:
        """The KZT quote of a KZT invoice, 0 for any other: the rate KZT settlement may use."""
        return self.rate_minor_per_btc if self.currency == Currency.KZT else 0

    @property
    def is_topup(self) -> bool:
        return self.invoice_type == InvoiceType.TOP_UP

    @property
    def threshold_sats(self) -> int:
        """Return the least total that counts as paid in full, after the tolerance.

        For a top-up invoice any payment (one satoshi or more) is payment in full.
        """
        if self.is_topup:
            return 1
        return self.amount_sats - (self.amount_sats * self.tolerance_bp) // 10000

    def offers(self, method: str) -> bool:
        """Whether the merchant allowed this payment method for the invoice."""
        return not self.payment_methods or method in self.payment_methods

    @property
    def redirect_target(self) -> str:
        """``redirectURL`` with Greenfield's ``{InvoiceId}`` and ``{OrderId}`` filled in."""
        return self.redirect_url.replace("{InvoiceId}", quote(self.id, safe="")).replace(
            "{OrderId}", quote(self.order_id, safe="")
        )


class PaymentMethod(models.TextChoices):
    CHAIN = "BTC-CHAIN", "On-chain"
    BANK = "BTC-ALATAU", "Alatau balance"


class PaymentStatus(models.TextChoices):
    PROCESSING = "Processing"
    SETTLED = "Settled"
    INVALID = "Invalid"


class InvoicePayment(models.Model):
    """One payment towards an invoice: an on-chain output or an in-bank transfer."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    amount_sats = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    confirmations = models.PositiveIntegerField(default=0)
    # On-chain: the custody deposit (one row per txid:vout); in-bank: the ledger transfer.
    deposit_id = models.BigIntegerField(null=True, blank=True, unique=True)
    txid = models.CharField(max_length=64, blank=True)
    vout = models.PositiveIntegerField(null=True, blank=True)
    transfer = models.OneToOneField(
        "accounts.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payer_account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    after_expiration = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    # The invoice's KZT settlement that exchanged this payment (a KZT store); a later
    # payment has its own exchange instead (``KztPaymentSettlement``).
    kzt_settlement = models.ForeignKey(
        "merchants.KztSettlement", models.PROTECT, null=True, blank=True, related_name="payments"
    )

    class Meta:
        verbose_name = _("invoice payment")
        verbose_name_plural = _("invoice payments")
        ordering = ["received_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_sats__gt=0), name="payment_amount_positive"),
            # One invoice is paid in-bank at most once, whatever the race.
            models.UniqueConstraint(
                fields=["invoice"], condition=Q(method="BTC-ALATAU"), name="payment_one_in_bank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.amount_sats} sats -> {self.invoice_id}"


class RefundMethod(models.TextChoices):
    IN_BANK = "InBank"
    ON_CHAIN = "OnChain"


class Refund(models.Model):
    """Money sent back to a payer for a settled invoice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    method = models.CharField(max_length=16, choices=RefundMethod.choices)
    amount_sats = models.BigIntegerField()
    address = models.CharField(max_length=100, blank=True)
    transfer = models.OneToOneField(
        "accounts.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawal_id = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_sats__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount_sats} sats of {self.invoice_id}"


class IdempotencyRecord(models.Model):
    """The first response to a POST with an ``Idempotency-Key``, replayed on repeats."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_per_merchant")
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.key}"


class PayoutKind(models.TextChoices):
    ON_CHAIN = "OnChain"
    CONVERSION = "Conversion"


class Payout(models.Model):
    """Merchant money out: BTC to an address (via custody) or BTC converted to KZT."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="payouts")
    kind = models.CharField(max_length=16, choices=PayoutKind.choices)
    amount_sats = models.BigIntegerField()
    address = models.CharField(max_length=100, blank=True)
    kzt_tiyn = models.BigIntegerField(null=True, blank=True)
    withdrawal_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=32, default="requested")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_sats__gt=0), name="payout_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"payout {self.kind} {self.amount_sats} sats"


# The merchant web door's models live in their own module; importing them here registers them.
# Pull payments and their payouts live in their own module (this one is long enough).
from merchants.models_pull import PayoutState, PullPayment, PullPaymentPayout  # noqa: E402, F401
from merchants.models_sales import (  # noqa: E402, F401
    KztPaymentSettlement,
    KztRateSource,
    KztSettlement,
    PaymentRequest,
    PaymentRequestInvoice,
    PayoutAddress,
    RefundKztExchange,
)
from merchants.models_webhooks import (  # noqa: E402, F401
    GREENFIELD_EVENTS,
    DeliveryStatus,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
