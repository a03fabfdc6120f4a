"""Staff admin for rates and quotes.

A new exchange rate is set through ``exchange_rate_set`` (a new row and an audit
event), never by editing an old one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from accounts.access import acting_user
from core.admin_tools import ReadOnlyAdmin
from core.errors import ApplicationError
from core.http import client_address
from core.money import format_amount
from exchange.models import ExchangeRate, Quote
from exchange.services import ask_rate, bid_rate, exchange_rate_check, exchange_rate_set


class ExchangeRateForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mid, spread = data.get("mid_tiyn_per_btc"), data.get("spread_bp")
        if mid is not None and spread is not None:
            try:
                exchange_rate_check(mid_tiyn_per_btc=mid, spread_bp=spread)
            except ApplicationError as exc:
                for field, messages in exc.fields.items():
                    for message in messages:
                        self.add_error(field, message)
        return data

    class Meta:
        model = ExchangeRate
        fields = ["mid_tiyn_per_btc", "spread_bp"]
        help_texts = {
            "mid_tiyn_per_btc": "Mid rate in tiyn per 1 BTC (45 000 000.00 KZT = 4500000000).",
        }


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Add a new rate (audited); old rates are history and never change."""

    form = ExchangeRateForm
    list_display = ["created_at", "mid", "bid", "ask", "spread_bp", "set_by"]
    list_select_related = ["set_by"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="mid (KZT per BTC)")
    def mid(self, obj: ExchangeRate) -> str:
        return format_amount(obj.mid_tiyn_per_btc, "KZT")

    @admin.display(description="we buy at")
    def bid(self, obj: ExchangeRate) -> str:
        return format_amount(bid_rate(obj.mid_tiyn_per_btc, obj.spread_bp), "KZT")

    @admin.display(description="we sell at")
    def ask(self, obj: ExchangeRate) -> str:
        return format_amount(ask_rate(obj.mid_tiyn_per_btc, obj.spread_bp), "KZT")

    def save_model(self, request: HttpRequest, obj: ExchangeRate, form: Any, change: bool) -> None:
        """Store the rate through the service (a new row and an audit event)."""
        saved = exchange_rate_set(
            mid_tiyn_per_btc=obj.mid_tiyn_per_btc,
            spread_bp=obj.spread_bp,
            actor=acting_user(request),
            client_address=client_address(request),
        )
        obj.pk, obj.created_at, obj.set_by = saved.pk, saved.created_at, saved.set_by


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "user", "direction", "amount_in_minor", "amount_out_minor",
                    "rate_tiyn_per_btc", "expires_at", "used_at"]  # fmt: skip
    list_filter = ["direction"]
    search_fields = ["user__email"]
