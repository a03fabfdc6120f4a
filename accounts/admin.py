"""Staff admin for customers and the ledger: read-only, except the exchange rate and users.

Ledger rows change only through services, so the admin shows them and never
edits them. A new exchange rate is set through ``exchange_rate_set`` (a new row
and an audit event), never by editing an old one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import (
    Account,
    ExchangeRate,
    Hold,
    Quote,
    Transfer,
    User,
    UserSession,
    WithdrawalAddress,
)
from accounts.services.exchange import ask_rate, bid_rate, exchange_rate_check, exchange_rate_set
from bank.errors import ApplicationError
from bank.middleware import client_address
from bank.money import format_amount


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_staff", "is_active", "email_verified_at", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email"]
    readonly_fields = ["email_verified_at", "last_login", "date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Status", {"fields": ("is_active", "email_verified_at", "last_login", "date_joined")}),
        ("Staff", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # customers own ledger rows; deactivate instead


@admin.register(Account)
class AccountAdmin(ReadOnly):
    list_display = ["number", "kind", "currency", "owner", "status", "posted", "held"]
    list_filter = ["kind", "currency", "status"]
    search_fields = ["number", "owner__email"]
    list_select_related = ["owner"]

    @admin.display(description="posted")
    def posted(self, obj: Account) -> str:
        return format_amount(obj.posted_minor, obj.currency, with_code=True)

    @admin.display(description="held")
    def held(self, obj: Account) -> str:
        return format_amount(obj.held_minor, obj.currency, with_code=True)


@admin.register(Transfer)
class TransferAdmin(ReadOnly):
    list_display = ["id", "created_at", "code", "amount", "debit_account", "credit_account", "memo"]
    list_filter = ["code", "currency"]
    search_fields = ["debit_account__number", "credit_account__number", "memo", "group_id"]
    list_select_related = ["debit_account", "credit_account"]
    date_hierarchy = "created_at"

    @admin.display(description="amount")
    def amount(self, obj: Transfer) -> str:
        return format_amount(obj.amount_minor, obj.currency, with_code=True)


@admin.register(Hold)
class HoldAdmin(ReadOnly):
    list_display = ["id", "created_at", "account", "code", "amount_minor", "status", "expires_at"]
    list_filter = ["status", "code"]
    search_fields = ["account__number"]


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
            actor=request.user,
            client_address=client_address(request),
        )
        obj.pk, obj.created_at, obj.set_by = saved.pk, saved.created_at, saved.set_by


@admin.register(Quote)
class QuoteAdmin(ReadOnly):
    list_display = ["id", "created_at", "user", "direction", "amount_in_minor", "amount_out_minor",
                    "rate_tiyn_per_btc", "expires_at", "used_at"]  # fmt: skip
    list_filter = ["direction"]
    search_fields = ["user__email"]


@admin.register(WithdrawalAddress)
class WithdrawalAddressAdmin(ReadOnly):
    list_display = ["user", "label", "address", "created_at", "usable_from", "removed_at"]
    search_fields = ["user__email", "address"]


@admin.register(UserSession)
class UserSessionAdmin(ReadOnly):
    list_display = ["user", "ip", "user_agent", "created_at", "last_seen_at"]
    search_fields = ["user__email", "ip"]
