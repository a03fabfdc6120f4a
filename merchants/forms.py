"""Forms of the merchant web pages (API keys, in-bank invoice payment)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Account, AccountKind, AccountStatus
from merchants.services.keys import SCOPES


class ApiKeyForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="What uses this key, e.g. 'web shop'.")
    scopes = forms.MultipleChoiceField(
        choices=list(SCOPES.items()), widget=forms.CheckboxSelectMultiple
    )
    otp_code = forms.CharField(
        required=False, max_length=10, label="Authenticator code",
        help_text="Needed for a key that can refund, pay out or approve payouts.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )  # fmt: skip


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.number} · available {obj.format(obj.posted_minor - obj.held_minor)}"


class PayInvoiceForm(forms.Form):
    otp_code = forms.CharField(
        required=False,
        max_length=20,
        label="Code from your authenticator app",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    account = AccountChoiceField(
        queryset=Account.objects.none(), empty_label=None, label="Pay from"
    )

    field_order = ["account", "otp_code"]

    def __init__(self, *args: Any, user: Any, needs_code: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not needs_code:
            del self.fields["otp_code"]
        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Account.objects.filter(
            owner=user, kind=AccountKind.CUSTOMER, currency="BTC", status=AccountStatus.ACTIVE
        ).order_by("pk")
