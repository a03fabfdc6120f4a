"""Forms of the merchant pages. They parse input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed
from core.money import parse_amount
from merchants.models import InvoiceStatus, PayoutAddress, RefundMethod

OTP_WIDGET = forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"})


def otp_field() -> forms.CharField:
    return forms.CharField(
        max_length=20, label=_("Code from your authenticator app"), widget=OTP_WIDGET
    )


class AmountField(forms.CharField):
    """A decimal amount in a currency, parsed to minor units by the bank's one parser."""

    def __init__(self, *args: Any, currency: str = "BTC", **kwargs: Any) -> None:
        self.currency = currency
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if text in (None, ""):
            return None
        try:
            return parse_amount(str(text).strip().replace(",", "."), self.currency)
        except ValidationFailed as exc:
            detail = [m for msgs in exc.fields.values() for m in msgs]
            raise forms.ValidationError(detail or [exc.message]) from None


class InvoiceFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        label=_("Status"),
        choices=[("", _("Any"))] + [(s.value, s.label) for s in InvoiceStatus],
    )
    date_from = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )
    order_id = forms.CharField(required=False, max_length=200, label=_("Order id"))
    q = forms.CharField(
        required=False, max_length=200, label=_("Search"),
        help_text=_("Invoice id, order id, address, txid, item or buyer email"),
    )  # fmt: skip


class RefundForm(forms.Form):
    method = forms.ChoiceField(
        label=_("Refund to"),
        choices=[
            (RefundMethod.IN_BANK.value, _("The customer's Alatau account (instant)")),
            (RefundMethod.ON_CHAIN.value, _("A bitcoin address (through the withdrawal flow)")),
        ],
        widget=forms.RadioSelect,
    )
    amount = AmountField(
        required=False,
        label=_("Amount in BTC"),
        help_text=_("Leave empty to refund all that is left."),
    )
    address = forms.CharField(required=False, max_length=100, label=_("Bitcoin address"))
    otp_code = otp_field()


class PaymentRequestForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("Title"))
    currency = forms.ChoiceField(
        label=_("Currency"), choices=[("KZT", "KZT"), ("BTC", "BTC")], initial="KZT"
    )
    amount = forms.CharField(
        max_length=32, label=_("Amount"), widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    expires_at = forms.DateTimeField(
        required=False,
        label=_("Expires"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    description = forms.CharField(
        required=False, max_length=4000, label=_("Memo"), widget=forms.Textarea(attrs={"rows": 3})
    )


class PayoutAddressForm(forms.Form):
    label = forms.CharField(max_length=60, label=_("Label"))
    address = forms.CharField(max_length=100, label=_("Bitcoin address"))
    otp_code = otp_field()


class AddressChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.label} · {obj.address}"


class PayoutForm(forms.Form):
    address = AddressChoice(
        queryset=PayoutAddress.objects.none(), empty_label=None, label=_("Pay out to")
    )
    amount = AmountField(label=_("Amount in BTC"))
    otp_code = otp_field()

    def __init__(self, *args: Any, addresses: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["address"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = addresses


class ConversionForm(forms.Form):
    amount = AmountField(label=_("Amount in BTC to convert to KZT"))
    otp_code = otp_field()


class SettlementForm(forms.Form):
    settle_to_kzt = forms.BooleanField(
        required=False,
        label=_("Settle every invoice to KZT at its quoted rate (guaranteed KZT price)"),
    )


class TillForm(forms.Form):
    """What the till posts: an amount in KZT or BTC, optional line items as JSON."""

    currency = forms.ChoiceField(choices=[("KZT", "KZT"), ("BTC", "BTC")])
    amount = forms.CharField(max_length=32)
    items = forms.CharField(required=False, max_length=8000)
    memo = forms.CharField(required=False, max_length=200)
