"""Greenfield's payment-requests API: list, create, read, update, archive, pay.

Paths and field names follow BTCPay's ``swagger.template.payment-requests.json``
(top-level ``/payment-requests/{id}`` and the store-scoped form). Paying a
request answers with Greenfield ``InvoiceData``: the invoice to pay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import NotFound, ValidationFailed
from core.money import format_amount
from merchants.api import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    INVOICE_EXAMPLE,
    STORE_ID,
    WRITE_ERRORS,
    MerchantApiView,
)
from merchants.models import Merchant, PaymentRequest
from merchants.presenters import invoice_json, unix
from merchants.serializers import AmountField, InvoiceOut
from merchants.services import payment_requests as services
from merchants.services.keys import SCOPE_MODIFY_PAYMENT_REQUESTS, SCOPE_VIEW_PAYMENT_REQUESTS

PAYMENT_REQUEST_ID = OpenApiParameter("payment_request_id", OpenApiTypes.STR, OpenApiParameter.PATH)
EXPIRY_MAX_S = 10 * 365 * 24 * 3600
EXAMPLE = {
    "id": "7Hd3kP2xQm9RtVwYz1AbCd",
    "storeId": "9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776",
    "status": "Pending",
    "createdTime": 1764000000,
    "amount": "25000.00",
    "currency": "KZT",
    "title": "Catering, Friday",
    "description": "Lunch for 12",
    "email": None,
    "expiryDate": 1764600000,
    "referenceId": "INV-123493",
    "allowCustomPaymentAmounts": False,
    "formId": None,
    "formResponse": None,
}
CREATE_EXAMPLE = OpenApiExample(
    "Payment request",
    request_only=True,
    value={
        "amount": "25000.00",
        "currency": "KZT",
        "title": "Catering, Friday",
        "description": "Lunch for 12",
        "expiryDate": 1764600000,
        "referenceId": "INV-123493",
    },
)
RESPONSE_EXAMPLE = OpenApiExample("Payment request", value=EXAMPLE, response_only=True)
PAY_EXAMPLE = OpenApiExample(
    "Reuse a pending invoice", request_only=True, value={"allowPendingInvoiceReuse": True}
)
INVOICE_EXAMPLE_OUT = OpenApiExample("Invoice", value=INVOICE_EXAMPLE, response_only=True)


class PaymentRequestIn(serializers.Serializer):
    amount = AmountField(help_text='In the request currency, e.g. "25000.00" or 25000.')
    title = serializers.CharField(max_length=200)
    currency = serializers.CharField(
        max_length=3, required=False, allow_null=True, allow_blank=True
    )
    email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
    description = serializers.CharField(
        max_length=4000, required=False, allow_null=True, allow_blank=True
    )
    expiryDate = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    referenceId = serializers.CharField(
        max_length=200, required=False, allow_null=True, allow_blank=True
    )
    allowCustomPaymentAmounts = serializers.BooleanField(required=False, allow_null=True)
    formId = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    formResponse = serializers.DictField(required=False, allow_null=True)


class PaymentRequestOut(PaymentRequestIn):
    amount = serializers.CharField(help_text='Decimal string, e.g. "25000.00".')  # type: ignore[assignment]
    email = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    id = serializers.CharField()
    storeId = serializers.CharField()
    status = serializers.ChoiceField(choices=["Pending", "Completed", "Processing", "Expired"])
    createdTime = serializers.IntegerField()


class PayIn(serializers.Serializer):
    amount = AmountField(required=False, allow_null=True)
    allowPendingInvoiceReuse = serializers.BooleanField(required=False, allow_null=True)


def payment_request_json(pr: PaymentRequest) -> dict[str, Any]:
    """Return a request as Greenfield ``PaymentRequestData``."""
    return {
        "id": pr.id,
        "storeId": pr.merchant.store_id,
        "status": services.payment_request_state(pr).status,
        "createdTime": unix(pr.created_at),
        "amount": format_amount(pr.amount_minor, pr.currency),
        "currency": pr.currency,
        "title": pr.title,
        "description": pr.description or None,
        "email": pr.email or None,
        "expiryDate": unix(pr.expires_at) if pr.expires_at else None,
        "referenceId": pr.reference_id or None,
        "allowCustomPaymentAmounts": pr.allow_custom_amounts,
        "formId": None,
        "formResponse": None,
    }


def _expiry(value: int | None) -> datetime | None:
    if value is None:
        return None
    if value > datetime.now(tz=UTC).timestamp() + EXPIRY_MAX_S:
        raise ValidationFailed(
            "Expiry too far", fields={"expiryDate": ["At most ten years ahead."]}
        )
    return datetime.fromtimestamp(value, tz=UTC)


def _request(merchant: Merchant, payment_request_id: str) -> PaymentRequest:
    pr = (
        PaymentRequest.objects.filter(merchant=merchant, pk=payment_request_id)
        .select_related("merchant")
        .first()
    )
    if pr is None:
        raise NotFound("Payment request not found")
    return pr


class PaymentRequestsApi(MerchantApiView):
    """List and create a store's payment requests."""

    required_scopes = {"GET": SCOPE_VIEW_PAYMENT_REQUESTS, "POST": SCOPE_MODIFY_PAYMENT_REQUESTS}

    @extend_schema(
        operation_id="PaymentRequests_GetPaymentRequests",
        tags=["Payment Requests"],
        summary="Get payment requests",
        parameters=[STORE_ID],
        responses={200: PaymentRequestOut(many=True), **ERRORS},
        examples=[OpenApiExample("Requests", value=EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)
        rows = PaymentRequest.objects.filter(merchant=merchant, archived=False).select_related(
            "merchant"
        )
        return Response([payment_request_json(pr) for pr in rows.order_by("-created_at")[:100]])

    @extend_schema(
        operation_id="PaymentRequests_CreatePaymentRequest",
        tags=["Payment Requests"],
        summary="Create a new payment request",
        parameters=[STORE_ID, IDEMPOTENCY_HEADER],
        request=PaymentRequestIn,
        responses={200: PaymentRequestOut, **WRITE_ERRORS},
        examples=[CREATE_EXAMPLE, RESPONSE_EXAMPLE],
    )
    def post(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)

        def create() -> Response:
            data = self.body(PaymentRequestIn)
            pr = services.payment_request_create(
                merchant=merchant,
                title=data["title"],
                amount=data["amount"],
                currency=data.get("currency") or "KZT",
                description=data.get("description") or "",
                expires_at=_expiry(data.get("expiryDate")),
                reference_id=data.get("referenceId") or "",
                email=data.get("email") or "",
                allow_custom_amounts=bool(data.get("allowCustomPaymentAmounts")),
                actor=merchant.owner,
            )
            return Response(payment_request_json(pr))

        return self.idempotent(merchant, create)


class PaymentRequestApi(MerchantApiView):
    """Read, update or archive one payment request."""

    required_scopes = {
        "GET": SCOPE_VIEW_PAYMENT_REQUESTS,
        "PUT": SCOPE_MODIFY_PAYMENT_REQUESTS,
        "DELETE": SCOPE_MODIFY_PAYMENT_REQUESTS,
    }

    @extend_schema(
        operation_id="PaymentRequests_GetPaymentRequest",
        tags=["Payment Requests"],
        summary="Get payment request",
        parameters=[STORE_ID, PAYMENT_REQUEST_ID],
        responses={200: PaymentRequestOut, **ERRORS},
        examples=[RESPONSE_EXAMPLE],
    )
    def get(
        self, request: Request, payment_request_id: str, store_id: str | None = None
    ) -> Response:
        return Response(payment_request_json(_request(self.merchant(store_id), payment_request_id)))

    @extend_schema(
        operation_id="PaymentRequests_UpdatePaymentRequest",
        tags=["Payment Requests"],
        summary="Update payment request",
        parameters=[STORE_ID, PAYMENT_REQUEST_ID],
        request=PaymentRequestIn,
        responses={200: PaymentRequestOut, **WRITE_ERRORS},
        examples=[CREATE_EXAMPLE, RESPONSE_EXAMPLE],
    )
    def put(
        self, request: Request, payment_request_id: str, store_id: str | None = None
    ) -> Response:
        merchant = self.merchant(store_id)
        data = self.body(PaymentRequestIn)
        pr = services.payment_request_update(
            merchant=merchant,
            request_id=payment_request_id,
            actor=merchant.owner,
            title=data["title"],
            amount=data["amount"],
            currency=data.get("currency") or "KZT",
            description=data.get("description") or "",
            expires_at=_expiry(data.get("expiryDate")),
        )
        return Response(payment_request_json(pr))

    @extend_schema(
        operation_id="PaymentRequests_ArchivePaymentRequest",
        tags=["Payment Requests"],
        summary="Archive payment request",
        parameters=[STORE_ID, PAYMENT_REQUEST_ID],
        responses={200: None, **WRITE_ERRORS},
    )
    def delete(
        self, request: Request, payment_request_id: str, store_id: str | None = None
    ) -> Response:
        merchant = self.merchant(store_id)
        services.payment_request_archive(
            merchant=merchant, request_id=payment_request_id, actor=merchant.owner
        )
        return Response(status=200)


class PaymentRequestPayApi(MerchantApiView):
    """Make (or reuse) the invoice that pays a request."""

    required_scopes = {"POST": SCOPE_VIEW_PAYMENT_REQUESTS}

    @extend_schema(
        operation_id="PaymentRequests_Pay",
        tags=["Payment Requests"],
        summary="Create a new invoice for the payment request",
        description="A new invoice for the amount due (or `amount` when the request allows "
        "custom amounts), or the pending one when `allowPendingInvoiceReuse` is true.",
        parameters=[STORE_ID, PAYMENT_REQUEST_ID, IDEMPOTENCY_HEADER],
        request=PayIn,
        responses={200: InvoiceOut, **WRITE_ERRORS},
        examples=[PAY_EXAMPLE, INVOICE_EXAMPLE_OUT],
    )
    def post(
        self, request: Request, payment_request_id: str, store_id: str | None = None
    ) -> Response:
        merchant = self.merchant(store_id)
        _request(merchant, payment_request_id)  # another store's request is a 404

        def pay() -> Response:
            data = self.body(PayIn) if request.data else {}
            invoice = services.payment_request_pay(
                request_id=payment_request_id,
                amount=data.get("amount"),
                reuse_pending=bool(data.get("allowPendingInvoiceReuse")),
                actor=merchant.owner,
            )
            return Response(invoice_json(invoice))

        return self.idempotent(merchant, pay)
