"""Staff admin for merchants: onboard through the service, read everything else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from accounts.access import acting_user
from accounts.models import User
from core.admin_tools import ReadOnlyAdmin
from core.db_reads import LaggingReadsAdmin
from core.errors import ApplicationError
from merchants.models import (
    ApiKey,
    Invoice,
    InvoicePayment,
    Merchant,
    MerchantStatus,
    Webhook,
    WebhookDelivery,
)
from merchants.services.merchants import (
    merchant_default_currency_set,
    merchant_onboard,
    merchant_set_status,
)


class MerchantOnboardForm(forms.ModelForm):
    with_kzt = forms.BooleanField(required=False, label=gettext_lazy("Open a KZT account too"))

    class Meta:
        model = Merchant
        fields = ["name", "owner"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "store_id", "owner", "status", "created_at"]
    search_fields = ["name", "store_id", "owner__email"]
    list_filter = ["status"]
    actions = ["suspend", "reactivate"]

    # Shown only to staff who may change merchants (merchants.change_merchant).
    @admin.action(
        description=gettext_lazy("Suspend: API keys and payments stop working"),
        permissions=["change"],
    )
    def suspend(self, request: HttpRequest, queryset: Any) -> None:
        for merchant in queryset:
            merchant_set_status(
                merchant_id=merchant.pk,
                status=MerchantStatus.SUSPENDED,
                actor=acting_user(request),
                reason="suspended from the admin",
            )

    @admin.action(description=gettext_lazy("Reactivate"), permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: Any) -> None:
        for merchant in queryset:
            merchant_set_status(
                merchant_id=merchant.pk,
                status=MerchantStatus.ACTIVE,
                actor=acting_user(request),
                reason="reactivated from the admin",
            )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = MerchantOnboardForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["name", "owner", "status", "store_id", "btc_account", "kzt_account", "created_at"]

    def save_model(self, request: HttpRequest, obj: Merchant, form: Any, change: bool) -> None:
        if change:  # merchants change only through services (suspension: merchant_set_status)
            if "default_currency" in form.changed_data:
                try:
                    merchant_default_currency_set(merchant_id=obj.pk, actor=acting_user(request),
                                                  currency=form.cleaned_data["default_currency"])  # fmt: skip
                except ApplicationError as exc:
                    messages.error(request, exc.message)
            return
        owner = form.cleaned_data["owner"]
        assert isinstance(owner, User)
        created = merchant_onboard(
            name=form.cleaned_data["name"],
            owner=owner,
            actor=acting_user(request),
            with_kzt=form.cleaned_data["with_kzt"],
        )
        obj.pk = created.pk
        obj.store_id = created.store_id


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["label", "merchant", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]


class PaymentInline(admin.TabularInline):
    model = InvoicePayment
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "method",
        "amount_sats",
        "status",
        "confirmations",
        "txid",
        "vout",
        "after_expiration",
        "received_at",
        "settled_at",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(LaggingReadsAdmin, ReadOnlyAdmin):
    list_display = [
        "id",
        "merchant",
        "currency",
        "amount_minor",
        "amount_sats",
        "status",
        "additional_status",
        "created_at",
    ]
    list_filter = ["status", "additional_status", "currency"]
    search_fields = ["id", "order_id", "destination"]
    inlines = [PaymentInline]


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["id", "merchant", "url", "enabled", "created_at"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LaggingReadsAdmin, ReadOnlyAdmin):
    list_display = [
        "id",
        "webhook",
        "event_type",
        "status",
        "http_code",
        "attempt_count",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
