"""The exchange rate as a control: set within the jump bound, else by four eyes."""

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
from compliance.services.rates import exchange_rate_change
from core.admin_tools import call_service
from core.errors import ApplicationError
from core.money import format_amount
from exchange.models import ExchangeRate
from exchange.services import ask_rate, bid_rate, exchange_rate_check


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
            "mid_tiyn_per_btc": gettext_lazy(
                "Mid rate in tiyn per 1 BTC (45 000 000.00 KZT = 4500000000)."
            ),
        }


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Add a new rate (audited; a jump over the bound goes to four eyes); old rates never change."""

    form = ExchangeRateForm
    list_display = ["created_at", "mid", "bid", "ask", "spread_bp", "set_by"]
    list_select_related = ["set_by"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("mid (KZT per BTC)"))
    def mid(self, obj: ExchangeRate) -> str:
        return format_amount(obj.mid_tiyn_per_btc, "KZT")

    @admin.display(description=gettext_lazy("we buy at"))
    def bid(self, obj: ExchangeRate) -> str:
        return format_amount(bid_rate(obj.mid_tiyn_per_btc, obj.spread_bp), "KZT")

    @admin.display(description=gettext_lazy("we sell at"))
    def ask(self, obj: ExchangeRate) -> str:
        return format_amount(ask_rate(obj.mid_tiyn_per_btc, obj.spread_bp), "KZT")

    def save_model(self, request: HttpRequest, obj: ExchangeRate, form: Any, change: bool) -> None:
        """Store the rate through the service (a new row and an audit event)."""
        ok, saved = call_service(request, exchange_rate_change, _("Rate"),
                                 mid_tiyn_per_btc=obj.mid_tiyn_per_btc, spread_bp=obj.spread_bp)  # fmt: skip
        if ok and isinstance(saved, ApprovalRequest):
            messages.warning(request, _("The rate jumps over the bound: a second staff member "
                                        "must approve it (request %(pk)s).") % {"pk": saved.pk})  # fmt: skip
        elif ok:
            obj.pk, obj.created_at, obj.set_by = saved.pk, saved.created_at, saved.set_by

    def response_add(
        self, request: HttpRequest, obj: ExchangeRate, post_url_continue: Any = None
    ) -> HttpResponse:
        if obj.pk is None:  # proposed (or refused): nothing was added
            return redirect("admin:exchange_exchangerate_changelist")
        return super().response_add(request, obj, post_url_continue)
