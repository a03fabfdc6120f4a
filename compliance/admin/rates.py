"""The bank's rates as a control: set within the jump bound, else by four eyes.

The BTC/KZT exchange rate and the fiat pricing rates (USD, EUR: invoice pricing only)
share one admin path: a new row through the service, a jump proposed for approval.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from compliance.models import ApprovalRequest
from compliance.services.rates import exchange_rate_change, pricing_rate_change
from core.admin_tools import call_service
from core.errors import ApplicationError
from core.money import format_amount
from exchange.models import ExchangeRate, PricingRate
from exchange.services import ask_rate, bid_rate, exchange_rate_check, pricing_rate_check


def _check_into_form(form: forms.ModelForm, check: Any, **values: Any) -> None:
    try:
        check(**values)
    except ApplicationError as exc:
        for field, errors in exc.fields.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)


class ExchangeRateForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mid, spread = data.get("mid_tiyn_per_btc"), data.get("spread_bp")
        if mid is not None and spread is not None:
            _check_into_form(self, exchange_rate_check, mid_tiyn_per_btc=mid, spread_bp=spread)
        return data

    class Meta:
        model = ExchangeRate
        fields = ["mid_tiyn_per_btc", "spread_bp"]
        help_texts = {
            "mid_tiyn_per_btc": gettext_lazy(
                "Mid rate in tiyn per 1 BTC (45 000 000.00 KZT = 4500000000)."
            ),
        }


class _RateAdmin(admin.ModelAdmin):
    """Add a new rate (audited; a jump over the bound goes to four eyes); old rates never change."""

    list_select_related = ["set_by"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def change_through_service(self, request: HttpRequest, obj: Any) -> Any:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Store the rate through the service (a new row and an audit event)."""
        ok, saved = self.change_through_service(request, obj)
        if ok and isinstance(saved, ApprovalRequest):
            messages.warning(request, _("The rate jumps over the bound: a second staff member "
                                        "must approve it (request %(pk)s).") % {"pk": saved.pk})  # fmt: skip
        elif ok:
            obj.pk, obj.created_at, obj.set_by = saved.pk, saved.created_at, saved.set_by

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: Any = None
    ) -> HttpResponse:
        if obj.pk is None:  # proposed (or refused): nothing was added
            meta = self.model._meta
            return redirect(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        return super().response_add(request, obj, post_url_continue)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(_RateAdmin):
    form = ExchangeRateForm
    list_display = ["created_at", "mid", "bid", "ask", "spread_bp", "set_by"]

    @admin.display(description=gettext_lazy("mid (KZT per BTC)"))
    def mid(self, obj: ExchangeRate) -> str:
        return format_amount(obj.mid_tiyn_per_btc, "KZT")

    @admin.display(description=gettext_lazy("we buy at"))
    def bid(self, obj: ExchangeRate) -> str:
        return format_amount(bid_rate(obj.mid_tiyn_per_btc, obj.spread_bp), "KZT")

    @admin.display(description=gettext_lazy("we sell at"))
    def ask(self, obj: ExchangeRate) -> str:
        return format_amount(ask_rate(obj.mid_tiyn_per_btc, obj.spread_bp), "KZT")

    def change_through_service(self, request: HttpRequest, obj: ExchangeRate) -> Any:
        return call_service(request, exchange_rate_change, _("Rate"),
                            mid_tiyn_per_btc=obj.mid_tiyn_per_btc, spread_bp=obj.spread_bp)  # fmt: skip


class PricingRateForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency, rate = data.get("currency"), data.get("minor_per_btc")
        if currency is not None and rate is not None:
            _check_into_form(self, pricing_rate_check, currency=currency, minor_per_btc=rate)
        return data

    class Meta:
        model = PricingRate
        fields = ["currency", "minor_per_btc"]
        help_texts = {
            "currency": gettext_lazy("ISO 4217 code of PRICING_FIAT_CURRENCIES (USD, EUR)."),
            "minor_per_btc": gettext_lazy(
                "Minor units per 1 BTC: cents for USD (64 392.23 USD = 6439223)."
            ),
        }


@admin.register(PricingRate)
class PricingRateAdmin(_RateAdmin):
    """Fiat reference rates that price USD/EUR invoices in BTC (no account, no exchange)."""

    form = PricingRateForm
    list_display = ["created_at", "currency", "rate", "source", "set_by"]
    list_filter = ["currency", "source"]

    @admin.display(description=gettext_lazy("per BTC"))
    def rate(self, obj: PricingRate) -> str:
        return format_amount(obj.minor_per_btc, obj.currency)

    def change_through_service(self, request: HttpRequest, obj: PricingRate) -> Any:
        return call_service(request, pricing_rate_change, _("Pricing rate"),
                            currency=obj.currency, minor_per_btc=obj.minor_per_btc)  # fmt: skip
