"""Web banking forms. They parse input; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Account
from accounts.selectors import customer_accounts
from core.errors import ValidationFailed
from core.money import parse_amount
from custody.models import WithdrawalAddress
from custody.selectors import withdrawal_addresses_active
from exchange.models import QuoteDirection

OTP_ATTRS = {
    "autocomplete": "one-time-code",
    "inputmode": "numeric",
    "pattern": "[0-9a-zA-Z ]*",
    "maxlength": "16",
}


def otp_field(required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=_("Two-factor code"),
        required=required,
        max_length=16,
        help_text=_("6 digits from your authenticator app, or one of your backup codes."),
        widget=forms.TextInput(attrs=OTP_ATTRS),
    )


def amount_minor(form: forms.Form, field: str, currency: str) -> int | None:
    """Parse a decimal amount field into minor units, or add the error to the field."""
    try:
        return parse_amount(str(form.cleaned_data.get(field, "")), currency, field=field)
    except ValidationFailed as exc:
        for message in exc.fields.get(field, [exc.message]):
            form.add_error(field, message)
        return None


class SignupForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password; not only digits."),
    )
    password2 = forms.CharField(
        label=_("Repeat password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords are different."))
        return data


class LoginForm(forms.Form):
    """Email and password, checked by ``authenticate(request, email=...)``.

    The request goes to ``authenticate`` so django-axes sees the attempt, and the
    credential is named ``email`` (the user model's USERNAME_FIELD), the field
    axes counts failures by.
    """

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user_cache: Any = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        email, password = data.get("email"), data.get("password")
        if email and password:
            self.user_cache = authenticate(self.request, email=email.lower(), password=password)
            if self.user_cache is None:
                raise forms.ValidationError(
                    _("Please enter a correct email and password. Both are case-sensitive."),
                    code="invalid_login",
                )
        return data

    def get_user(self) -> Any:
        return self.user_cache


class OtpForm(forms.Form):
    otp_code = otp_field()


class OtpSetupForm(forms.Form):
    otp_code = forms.CharField(
        label=_("Code from the app"),
        max_length=6,
        help_text=_("The 6 digits your authenticator app shows for Alatau Bank."),
        widget=forms.TextInput(attrs={**OTP_ATTRS, "pattern": "[0-9]{6}", "maxlength": "6"}),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TwofactorDisableForm(PasswordConfirmForm):
    otp_code = otp_field()


class IdentityForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name (as in your document)"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    iin = forms.CharField(
        label=_("IIN"),
        max_length=12,
        help_text=_("Your 12-digit individual identification number."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "pattern": "[0-9]{12}"}),
    )
    address = forms.CharField(
        label=_("Registered address"),
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    document = forms.FileField(
        label=_("Identity document"),
        help_text=_("ID card or passport: PDF, JPEG or PNG, up to 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )

    def clean_date_of_birth(self) -> dt.date:
        value: dt.date = self.cleaned_data["date_of_birth"]
        if value.year < 1900:
            raise forms.ValidationError(_("Enter your real date of birth."))
        return value


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Account) -> str:
        return f"{obj.currency} · {obj.number_formatted}"


class TransferForm(forms.Form):
    from_account = AccountChoiceField(
        queryset=Account.objects.none(),
        label=pgettext_lazy("account", "From"),
        empty_label=None,
    )
    recipient = forms.CharField(
        label=_("Recipient"),
        max_length=254,
        help_text=_("Account number (KZ…, spaces allowed) or the email the person signed up with."),
    )
    amount = forms.CharField(
        label=_("Amount"),
        max_length=32,
        help_text=_("In the currency of the account you send from, e.g. 2500.50 or 0.0015."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    memo = forms.CharField(label=_("Message (optional)"), max_length=140, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["from_account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = customer_accounts(owner=user)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        account = data.get("from_account")
        if account is not None and "amount" in data:
            data["amount_minor"] = amount_minor(self, "amount", account.currency)
        return data


class TransferConfirmForm(TransferForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=128)
    otp_code = otp_field(required=False)


class ExchangeForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[
            (QuoteDirection.BTC_TO_KZT, _("BTC to KZT")),
            (QuoteDirection.KZT_TO_BTC, _("KZT to BTC")),
        ],
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(
        label=_("Amount to exchange"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text=_("In the currency you give: BTC for BTC to KZT, KZT for KZT to BTC."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        direction = data.get("direction")
        if direction and "amount" in data:
            currency = "BTC" if direction == QuoteDirection.BTC_TO_KZT else "KZT"
            data["amount_minor"] = amount_minor(self, "amount", currency)
        return data


class StatementForm(forms.Form):
    account = AccountChoiceField(
        queryset=Account.objects.none(), label=_("Account"), empty_label=None
    )
    start = forms.DateField(
        label=pgettext_lazy("date range", "From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=_("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = customer_accounts(owner=user)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end date is before the start date."))
            elif (end - start).days > 366:
                self.add_error("end", _("Choose at most one year."))
        return data


class WithdrawalAddressForm(forms.Form):
    label = forms.CharField(
        label=_("Name"), max_length=60, help_text=_("A name for you, e.g. “My hardware wallet”.")
    )
    address = forms.CharField(
        label=_("Bitcoin address"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    otp_code = otp_field()


class AddressChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: WithdrawalAddress) -> str:
        if obj.usable_from > timezone.now():
            when = timezone.localtime(obj.usable_from)
            return _("%(label)s · %(address)s (usable from %(when)s)") % {
                "label": obj.label,
                "address": obj.address,
                "when": f"{when:%d.%m.%Y %H:%M}",
            }
        return f"{obj.label} · {obj.address}"


class WithdrawForm(forms.Form):
    address = AddressChoiceField(
        queryset=WithdrawalAddress.objects.none(), label=_("To address"), empty_label=None
    )
    amount = forms.CharField(
        label=_("Amount (BTC)"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["address"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = withdrawal_addresses_active(user=user)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "amount" in data:
            data["amount_minor"] = amount_minor(self, "amount", "BTC")
        return data


class WithdrawConfirmForm(WithdrawForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=128)
    # Travel-rule data: asked for (and required by compliance) above its threshold.
    beneficiary_name = forms.CharField(
        label=_("Beneficiary's full name"), max_length=200, required=False
    )
    wallet = forms.ChoiceField(
        label=_("Who holds this address?"),
        choices=[("own", _("My own wallet")), ("provider", _("Another provider (exchange, bank)"))],
        required=False,
        widget=forms.RadioSelect,
    )
    provider_name = forms.CharField(label=_("Provider's name"), max_length=200, required=False)
    otp_code = otp_field()

    TRAVEL_FIELDS = ("beneficiary_name", "wallet", "provider_name")
