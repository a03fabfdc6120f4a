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


class PayInvoiceForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.none(), empty_label=None,
                                     label="Pay from")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Account.objects.filter(
            owner=user, kind=AccountKind.CUSTOMER, currency="BTC", status=AccountStatus.ACTIVE
        ).order_by("pk")
        field.label_from_instance = lambda a: (  # type: ignore[method-assign]
            f"{a.number} · available {a.format(a.posted_minor - a.held_minor)}"
        )
