"""Input and output shapes of the merchant API (Greenfield field names).

Input serializers check structure and types; the services check the rules.
Output serializers describe the JSON the presenters build, for the schema.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from merchants.models import (
    GREENFIELD_EVENTS,
    AdditionalStatus,
    InvoiceStatus,
    PaymentMethod,
    PaymentStatus,
    RefundMethod,
    SpeedPolicy,
)

STATUS_CHOICES = InvoiceStatus.values
AMOUNT_CHARS = frozenset("0123456789.-")


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "decimal"}, {"type": "number"}],
        "example": "0.00150000",
    }
)
class AmountField(serializers.Field):
    """A decimal amount as Greenfield takes it: a JSON string or a JSON number.

    Returned as plain decimal text for ``parse_amount``. Whitespace (spaces,
    newlines), exponents written in a string, booleans and other types are refused.
    """

    default_error_messages = {
        "invalid": 'A decimal number as a string ("0.0015") or a JSON number.',
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            return str(data)
        if isinstance(data, Decimal):
            if not data.is_finite() or abs(data.adjusted()) > 30:
                self.fail("invalid")
            return format(data, "f")
        if not isinstance(data, str) or not data or not set(data) <= AMOUNT_CHARS:
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> str:
        return str(value)


class CheckoutIn(serializers.Serializer):
    speedPolicy = serializers.ChoiceField(
        choices=SpeedPolicy.values, required=False, allow_null=True
    )
    expirationMinutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=7 * 24 * 60
    )
    monitoringMinutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=30 * 24 * 60
    )
    paymentTolerance = serializers.DecimalField(
        required=False,
        allow_null=True,
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        coerce_to_string=False,  # a JSON number, as Greenfield documents it
    )
    redirectURL = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=2000
    )
    paymentMethods = serializers.ListField(
        child=serializers.ChoiceField(
            choices=PaymentMethod.values,
            error_messages={"invalid_choice": "Invalid PaymentMethodId"},
        ),
        required=False,
        allow_null=True,
        max_length=len(PaymentMethod.values),
        help_text="The methods this invoice may be paid with (default all): BTC-CHAIN, BTC-ALATAU.",
    )
    defaultPaymentMethod = serializers.ChoiceField(
        choices=PaymentMethod.values, required=False, allow_null=True
    )
    lazyPaymentMethods = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="`true` is refused: Alatau activates every method at creation.",
    )
    redirectAutomatically = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="`true` is refused: the checkout shows a button back to the store.",
    )
    defaultLanguage = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=20,
        help_text="Only English (`en`, `en-US`, ...) is available; others are refused.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        if attrs.get("lazyPaymentMethods"):
            errors["lazyPaymentMethods"] = "Lazy payment methods are not supported."
        if attrs.get("redirectAutomatically"):
            errors["redirectAutomatically"] = "Automatic redirection is not supported."
        language = attrs.get("defaultLanguage")
        if language and language.split("-")[0].lower() != "en":
            errors["defaultLanguage"] = "The requested defaultLang does not exist (only en)."
        methods, default = attrs.get("paymentMethods"), attrs.get("defaultPaymentMethod")
        if methods and default and default not in methods:
            errors["defaultPaymentMethod"] = "Must be one of paymentMethods."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CreateInvoiceIn(serializers.Serializer):
    amount = AmountField(
        allow_null=True,
        required=False,
        help_text='In the invoice currency, e.g. "0.00150000" or 25000. Absent or null: a '
        "top-up invoice (any payment is payment in full).",
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        allow_null=True,
        trim_whitespace=False,  # "usd " is refused, not trimmed
        help_text="BTC, KZT, or a fiat currency the bank has a pricing rate for (USD, EUR); "
        "absent or null: the store's `defaultCurrency`. A fiat price is converted to the BTC "
        "due at the bank's rate, rounded up to the satoshi; no rate in force, an empty or "
        "unknown currency answer 422.",
    )
    metadata = serializers.DictField(
        required=False, allow_null=True, help_text="Free JSON; `orderId` is indexed and filterable."
    )
    checkout = CheckoutIn(required=False, allow_null=True)
    additionalSearchTerms = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True
    )


class UpdateInvoiceIn(serializers.Serializer):
    metadata = serializers.DictField(
        allow_null=True,
        help_text="Replaces the metadata; `orderId` is re-indexed. `null` clears it.",
    )


class MarkStatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=[InvoiceStatus.INVALID, InvoiceStatus.SETTLED])


class CheckoutOut(serializers.Serializer):
    speedPolicy = serializers.ChoiceField(choices=SpeedPolicy.values)
    paymentMethods = serializers.ListField(child=serializers.CharField())
    defaultPaymentMethod = serializers.CharField()
    expirationMinutes = serializers.IntegerField()
    monitoringMinutes = serializers.IntegerField()
    paymentTolerance = serializers.DecimalField(
        max_digits=5, decimal_places=2, coerce_to_string=False
    )
    redirectURL = serializers.CharField(allow_null=True)


class ReceiptOut(serializers.Serializer):
    enabled = serializers.BooleanField()
    showQR = serializers.BooleanField(allow_null=True)
    showPayments = serializers.BooleanField(allow_null=True)


class InvoiceOut(serializers.Serializer):
    id = serializers.CharField()
    storeId = serializers.CharField()
    amount = serializers.CharField(help_text="Decimal string in the invoice currency.")
    paidAmount = serializers.CharField()
    currency = serializers.CharField()
    type = serializers.ChoiceField(choices=["Standard", "TopUp"])
    checkoutLink = serializers.CharField()
    createdTime = serializers.IntegerField(help_text="Unix seconds.")
    expirationTime = serializers.IntegerField(help_text="Unix seconds.")
    monitoringExpiration = serializers.IntegerField(help_text="Unix seconds.")
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    additionalStatus = serializers.ChoiceField(choices=AdditionalStatus.values)
    availableStatusesForManualMarking = serializers.ListField(
        child=serializers.ChoiceField(choices=STATUS_CHOICES)
    )
    archived = serializers.BooleanField()
    metadata = serializers.DictField()
    checkout = CheckoutOut()
    receipt = ReceiptOut()


class PaymentOut(serializers.Serializer):
    id = serializers.CharField()
    receivedDate = serializers.IntegerField()
    value = serializers.CharField()
    fee = serializers.CharField()
    status = serializers.ChoiceField(choices=PaymentStatus.values)
    destination = serializers.CharField()


class PaymentMethodOut(serializers.Serializer):
    paymentMethodId = serializers.ChoiceField(choices=PaymentMethod.values)
    currency = serializers.CharField()
    destination = serializers.CharField()
    paymentLink = serializers.CharField(allow_null=True, help_text="BIP21 link (on-chain).")
    rate = serializers.CharField(help_text="Invoice currency per 1 BTC.")
    paymentMethodPaid = serializers.CharField()
    totalPaid = serializers.CharField()
    due = serializers.CharField()
    amount = serializers.CharField()
    paymentMethodFee = serializers.CharField()
    payments = PaymentOut(many=True)
    activated = serializers.BooleanField()
    additionalData = serializers.DictField()


class AuthorizedEvents(serializers.Serializer):
    everything = serializers.BooleanField(default=True)
    specificEvents = serializers.ListField(
        child=serializers.ChoiceField(choices=list(GREENFIELD_EVENTS)),
        default=list,
        max_length=len(GREENFIELD_EVENTS),
    )


class WebhookIn(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    enabled = serializers.BooleanField(default=True)
    automaticRedelivery = serializers.BooleanField(default=True)
    authorizedEvents = AuthorizedEvents(required=False)
    secret = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=200
    )


class WebhookOut(serializers.Serializer):
    id = serializers.CharField()
    enabled = serializers.BooleanField()
    automaticRedelivery = serializers.BooleanField()
    url = serializers.CharField()
    authorizedEvents = AuthorizedEvents()


class WebhookCreatedOut(WebhookOut):
    secret = serializers.CharField(help_text="Shown once: keep it to verify BTCPay-Sig.")


class DeliveryAttemptOut(serializers.Serializer):
    number = serializers.IntegerField()
    startedTime = serializers.IntegerField()
    httpCode = serializers.IntegerField(allow_null=True)
    responseTimeMs = serializers.IntegerField()
    errorMessage = serializers.CharField()


class DeliveryOut(serializers.Serializer):
    id = serializers.CharField()
    timestamp = serializers.IntegerField()
    deliveryTime = serializers.IntegerField(required=False, help_text="Absent until attempted.")
    httpCode = serializers.IntegerField(allow_null=True)
    errorMessage = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["Failed", "HttpError", "HttpSuccess"],
        help_text="BTCPay's values. Not attempted yet: `Failed` with `alatauStatus` `Pending`.",
    )
    alatauStatus = serializers.ChoiceField(
        choices=["Pending", "Failed", "HttpError", "HttpSuccess"],
        help_text="Alatau's own: `Pending` while queued or waiting for a retry.",
    )
    eventType = serializers.CharField()
    attempts = DeliveryAttemptOut(many=True)


class RefundIn(serializers.Serializer):
    method = serializers.ChoiceField(choices=RefundMethod.values)
    amount = serializers.CharField(
        required=False, allow_null=True, help_text="BTC decimal string; default: all that is left."
    )
    address = serializers.CharField(required=False, allow_blank=True, max_length=100)


class RefundOut(serializers.Serializer):
    id = serializers.IntegerField()
    invoiceId = serializers.CharField()
    method = serializers.ChoiceField(choices=RefundMethod.values)
    amount = serializers.CharField()
    currency = serializers.CharField()
    address = serializers.CharField()
    transferId = serializers.IntegerField(allow_null=True)
    withdrawalId = serializers.IntegerField(allow_null=True)
    createdTime = serializers.IntegerField()


class BalanceLine(serializers.Serializer):
    currency = serializers.CharField()
    accountNumber = serializers.CharField()
    posted = serializers.CharField()
    held = serializers.CharField()
    available = serializers.CharField()


class BalanceOut(serializers.Serializer):
    storeId = serializers.CharField()
    balances = BalanceLine(many=True)


class TransactionOut(serializers.Serializer):
    id = serializers.IntegerField()
    createdTime = serializers.IntegerField()
    code = serializers.CharField()
    amount = serializers.CharField(help_text="Signed: positive is money in.")
    balance = serializers.CharField()
    memo = serializers.CharField()


class TransactionPageOut(serializers.Serializer):
    currency = serializers.CharField()
    opening = serializers.CharField()
    closing = serializers.CharField()
    hasMore = serializers.BooleanField()
    nextAfterId = serializers.IntegerField(allow_null=True)
    transactions = TransactionOut(many=True)


class TravelRuleIn(serializers.Serializer):
    beneficiaryName = serializers.CharField(max_length=200)
    wallet = serializers.ChoiceField(choices=["own", "provider"])
    providerName = serializers.CharField(max_length=200, required=False)


class PayoutIn(serializers.Serializer):
    amount = serializers.CharField(help_text="BTC decimal string.")
    destination = serializers.CharField(
        max_length=100, help_text="A bitcoin address on the store's allow-list, past its cool-down."
    )
    travelRule = TravelRuleIn(
        required=False,
        help_text="Beneficiary data, required at or above the travel-rule threshold.",
    )


class ConversionIn(serializers.Serializer):
    amount = serializers.CharField(help_text="BTC decimal string to sell for KZT.")


class PayoutOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.CharField()
    destination = serializers.CharField()
    kztAmount = serializers.CharField(allow_null=True)
    withdrawalId = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    createdTime = serializers.IntegerField()


class ErrorOut(serializers.Serializer):
    """Greenfield's error: ``{"code", "message"}`` (``missingPermission`` on a 403)."""

    code = serializers.CharField(help_text="Stable kebab-case code, e.g. invoice-not-found.")
    message = serializers.CharField()
    missingPermission = serializers.CharField(
        required=False, help_text="On 403 missing-permission: the permission the key lacks."
    )
