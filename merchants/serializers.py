"""Input and output shapes of the merchant API (Greenfield field names).

Input serializers check structure and types; the services check the rules.
Output serializers describe the JSON the presenters build, for the schema.
"""

from __future__ import annotations

from rest_framework import serializers

from merchants.models import (
    AdditionalStatus,
    InvoiceStatus,
    PaymentMethod,
    PaymentStatus,
    RefundMethod,
    SpeedPolicy,
    WebhookEvent,
)

STATUS_CHOICES = InvoiceStatus.values


class CheckoutIn(serializers.Serializer):
    speedPolicy = serializers.ChoiceField(
        choices=SpeedPolicy.values, required=False, allow_null=True
    )
    expirationMinutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=7 * 24 * 60
    )
    paymentTolerance = serializers.DecimalField(
        required=False, allow_null=True, max_digits=5, decimal_places=2, min_value=0, max_value=100
    )
    redirectURL = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=2000
    )
    paymentMethods = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        help_text="Accepted for compatibility; Alatau offers BTC-CHAIN and BTC-ALATAU.",
    )
    defaultPaymentMethod = serializers.CharField(required=False, allow_null=True)
    lazyPaymentMethods = serializers.BooleanField(required=False, allow_null=True)
    monitoringMinutes = serializers.IntegerField(required=False, allow_null=True)
    redirectAutomatically = serializers.BooleanField(required=False, allow_null=True)
    defaultLanguage = serializers.CharField(required=False, allow_null=True)


class CreateInvoiceIn(serializers.Serializer):
    amount = serializers.CharField(
        max_length=40,
        allow_null=True,
        required=False,
        help_text='Decimal string in the invoice currency, e.g. "0.00150000" or "25000.00".',
    )
    currency = serializers.CharField(
        max_length=3,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="BTC (default) or KZT.",
    )
    metadata = serializers.DictField(
        required=False, allow_null=True, help_text="Free JSON; `orderId` is indexed and filterable."
    )
    checkout = CheckoutIn(required=False, allow_null=True)
    additionalSearchTerms = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True
    )


class UpdateInvoiceIn(serializers.Serializer):
    metadata = serializers.DictField(help_text="Replaces the metadata; `orderId` is re-indexed.")


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
        child=serializers.ChoiceField(choices=WebhookEvent.values), default=list
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
    status = serializers.ChoiceField(choices=["Pending", "Failed", "HttpError", "HttpSuccess"])
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


class PayoutIn(serializers.Serializer):
    amount = serializers.CharField(help_text="BTC decimal string.")
    destination = serializers.CharField(max_length=100, help_text="A bitcoin address.")


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
    """The one error shape: ``{"code", "message", "fields"}``."""

    code = serializers.CharField(help_text="Stable machine code, e.g. invoice_not_found.")
    message = serializers.CharField()


# A field called "fields" would shadow Serializer.fields, so it is declared after the class.
ErrorOut._declared_fields["fields"] = serializers.DictField(
    child=serializers.ListField(child=serializers.CharField()),
    help_text="Field errors by JSON path (e.g. checkout.speedPolicy); empty if none.",
)
