"""The bank's rates (BTC/KZT; fiat pricing rates) and the firm quotes it gives customers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import format_amount


class ExchangeRate(models.Model):
    """The bank's BTC/KZT mid rate and spread, set by staff.

    Rows are never edited: each change is a new row (and an audit event), so the
    newest row is the current rate and the table is its history.
    """

    mid_tiyn_per_btc = models.BigIntegerField()
    spread_bp = models.PositiveIntegerField(help_text=_("Spread each side of mid, in basis points"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        db_table = "accounts_exchangerate"  # kept from when the ledger app held it
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="exchange_rate_mid_positive", condition=Q(mid_tiyn_per_btc__gt=0)
            ),
            models.CheckConstraint(
                name="exchange_rate_spread_bounded", condition=Q(spread_bp__lt=5000)
            ),
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.mid_tiyn_per_btc, 'KZT')} KZT/BTC ±{self.spread_bp} bp"


class RateSource(models.TextChoices):
    STAFF = "staff", "Staff"
    FEED = "feed", "Feed"


class PricingRate(models.Model):
    """A reference rate of a fiat currency invoices may be priced in, set by staff or a feed.

    Minor units of ``currency`` per 1 BTC (cents per BTC for USD). The bank holds no
    account in these currencies: the rate only turns an invoice's fiat price into the
    BTC due, fixed on the invoice when it is created; it never prices an exchange.
    Rows are never edited; the newest row of a currency is its rate in force.
    """

    currency = models.CharField(max_length=3)
    minor_per_btc = models.BigIntegerField()
    source = models.CharField(max_length=8, choices=RateSource.choices, default=RateSource.STAFF)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("pricing rate")
        verbose_name_plural = _("pricing rates")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["currency", "-created_at", "-id"], name="pricing_rate_newest")
        ]
        constraints = [
            models.CheckConstraint(name="pricing_rate_positive", condition=Q(minor_per_btc__gt=0)),
            models.CheckConstraint(
                name="pricing_rate_iso_code",
                condition=Q(currency__regex=r"^[A-Z]{3}$") & ~Q(currency__in=["BTC", "KZT"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.minor_per_btc, self.currency)} {self.currency}/BTC"


class QuoteDirection(models.TextChoices):
    BTC_TO_KZT = "btc_kzt", "BTC to KZT"
    KZT_TO_BTC = "kzt_btc", "KZT to BTC"


class Quote(models.Model):
    """A firm exchange offer to one customer, valid until ``expires_at``, usable once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quotes"
    )
    direction = models.CharField(max_length=8, choices=QuoteDirection.choices)
    amount_in_minor = models.BigIntegerField()
    amount_out_minor = models.BigIntegerField()
    # The rate applied (mid with the spread, rounded in the bank's favour).
    rate_tiyn_per_btc = models.BigIntegerField()
    rate = models.ForeignKey(ExchangeRate, on_delete=models.PROTECT, related_name="quotes")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    group_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        db_table = "accounts_quote"  # kept from when the ledger app held it
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="quote_amount_in_positive", condition=Q(amount_in_minor__gt=0)
            ),
            models.CheckConstraint(
                name="quote_amount_out_positive", condition=Q(amount_out_minor__gt=0)
            ),
        ]

    def __str__(self) -> str:
        return f"Q{self.pk} {self.direction} {self.amount_in_minor}->{self.amount_out_minor}"

    @property
    def currency_in(self) -> str:
        return "BTC" if self.direction == QuoteDirection.BTC_TO_KZT else "KZT"

    @property
    def currency_out(self) -> str:
        return "KZT" if self.direction == QuoteDirection.BTC_TO_KZT else "BTC"
