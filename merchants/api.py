"""The merchant REST API (BTCPay Greenfield dialect): the base view and the invoice endpoints.

One class per resource; each method parses input, calls one service, renders
the result. Another merchant's objects answer 404, never 403.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed
from core.http import client_address
from core.renderers import FastJSONRenderer
from merchants import schema  # noqa: F401 - registers the auth scheme with drf-spectacular
from merchants.api_errors import VALIDATION_ERRORS_SCHEMA, greenfield_exception_handler
from merchants.api_params import (
    bool_param,
    choice_params,
    date_param,
    int_param,
    query_check,
    text_param,
)
from merchants.auth import ApiKeyAuthentication, ApiKeyRateThrottle, DecimalJSONParser, HasScope
from merchants.models import ApiKey, InvoiceStatus, Merchant
from merchants.presenters import invoice_json, payment_methods_json
from merchants.selectors import PAGE_MAX, invoice_get, invoice_list, merchant_for_store
from merchants.serializers import (
    CreateInvoiceIn,
    ErrorOut,
    InvoiceOut,
    MarkStatusIn,
    PaymentMethodOut,
    UpdateInvoiceIn,
)
from merchants.services import invoices as invoice_services
from merchants.services.idempotency import (
    idempotency_begin,
    idempotency_derived_key,
    idempotency_finish,
)
from merchants.services.keys import (
    SCOPE_CREATE_INVOICE,
    SCOPE_MODIFY_INVOICES,
    SCOPE_VIEW_INVOICES,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional, at most 128 characters. The same key with the same method, path "
    "and body returns the first response again (with `Idempotent-Replayed: true`), errors "
    "included; with a different request it is 409 `idempotency-conflict`, and while the first "
    "is still running 409 `idempotency-in-progress`. Keys live per store.",
)
ERRORS = {
    401: OpenApiResponse(ErrorOut, description="`unauthenticated`: missing or invalid API key."),
    403: OpenApiResponse(
        ErrorOut, description="`missing-permission`: the key lacks `missingPermission`."
    ),
    404: OpenApiResponse(ErrorOut, description="Not found, or not this store's."),
    422: OpenApiResponse(
        VALIDATION_ERRORS_SCHEMA, description="Validation failed: one item per problem."
    ),
    429: OpenApiResponse(ErrorOut, description="Rate limited; see Retry-After."),
}
WRITE_ERRORS = {
    **ERRORS,
    400: OpenApiResponse(ErrorOut, description="The request cannot be done in this state."),
    409: OpenApiResponse(ErrorOut, description="Conflict (state or idempotency key)."),
    413: OpenApiResponse(ErrorOut, description="`body-too-large`: over 64 KiB."),
    503: OpenApiResponse(
        ErrorOut, description="A dependency is down (no BTC/KZT rate, the node); try again."
    ),
}
INVOICE_EXAMPLE = {
    "id": "HMprBnL9BTXWuPvpoKBS6e",
    "storeId": "9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776",
    "amount": "0.00150000",
    "paidAmount": "0.00000000",
    "currency": "BTC",
    "type": "Standard",
    "checkoutLink": "https://bank.alatau.example/i/HMprBnL9BTXWuPvpoKBS6e",
    "createdTime": 1764000000,
    "expirationTime": 1764000900,
    "monitoringExpiration": 1764087300,
    "status": "New",
    "additionalStatus": "None",
    "availableStatusesForManualMarking": ["Settled", "Invalid"],
    "archived": False,
    "metadata": {"orderId": "A-1001", "itemDesc": "Tea"},
    "checkout": {
        "speedPolicy": "MediumSpeed",
        "paymentMethods": ["BTC-CHAIN", "BTC-ALATAU"],
        "defaultPaymentMethod": "BTC-CHAIN",
        "expirationMinutes": 15,
        "monitoringMinutes": 1440,
        "paymentTolerance": 0,
        "redirectURL": "https://shop.example/orders/A-1001",
    },
    "receipt": {"enabled": True, "showQR": None, "showPayments": None},
}
STORE_ID = OpenApiParameter(
    "store_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The store id (Merchant.store_id).",
)
INVOICE_ID = OpenApiParameter("invoice_id", OpenApiTypes.STR, OpenApiParameter.PATH)
INCLUDE_PAYMENT_METHODS = OpenApiParameter(
    "includePaymentMethods",
    OpenApiTypes.BOOL,
    description="Add `paymentMethods` (as the payment-methods endpoint) to each invoice.",
)


def request_fingerprint(request: Request) -> str:
    text = json.dumps(
        {"method": request.method, "path": request.path, "body": request.data},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class MerchantApiView(APIView):
    """Base of every merchant endpoint: API key auth, scopes, per-key throttle, errors."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [DecimalJSONParser]
    required_scopes: dict[str, str] = {}

    def get_exception_handler(self) -> Any:
        return greenfield_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        query_check(request)

    @property
    def api_key(self) -> ApiKey:
        key = self.request.auth
        assert isinstance(key, ApiKey)
        return key

    def merchant(self, store_id: str | None) -> Merchant:
        if store_id is None:
            return self.api_key.merchant
        return merchant_for_store(store_id=store_id, key=self.api_key)

    def body(self, serializer_class: type[Any]) -> dict[str, Any]:
        if not isinstance(self.request.data, dict):
            raise ValidationFailed(
                "The body must be a JSON object", fields={"": ["Send a JSON object."]}
            )
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    # A view that moves money (refund, payout, conversion) sets this: a request without an
    # ``Idempotency-Key`` then gets one derived from the request itself, so a client that
    # retries after a timeout never pays twice (``idempotency_derived_key``).
    moves_money = False

    def idempotent(self, merchant: Merchant, handler: Callable[[], Response]) -> Response:
        """Run a POST handler once per ``Idempotency-Key`` (derived when money moves)."""
        key = self.request.headers.get("Idempotency-Key")
        if key is None and not self.moves_money:
            return handler()  # nothing to remember: no body hash to compute either
        fingerprint = request_fingerprint(self.request)
        if key is None:
            key = idempotency_derived_key(merchant=merchant, request_hash=fingerprint)
        record, replay = idempotency_begin(merchant=merchant, key=key, request_hash=fingerprint)
        if replay:
            response = Response(record.response_body, status=record.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = handler()
        except Exception as exc:
            try:
                response = self.handle_exception(exc)
            except Exception:
                idempotency_finish(record=record, status_code=500, body=None)
                raise
        body = (
            json.loads(FastJSONRenderer().render(response.data))
            if response.data is not None
            else None
        )
        idempotency_finish(record=record, status_code=response.status_code, body=body)
        return response


class InvoicesApi(MerchantApiView):
    """List and create invoices of a store."""

    required_scopes = {"GET": SCOPE_VIEW_INVOICES, "POST": SCOPE_CREATE_INVOICE}

    @extend_schema(
        operation_id="Invoices_GetInvoices",
        tags=["Invoices"],
        summary="List invoices",
        parameters=[
            STORE_ID,
            OpenApiParameter(
                "orderId",
                OpenApiTypes.STR,
                many=True,
                description="Repeat to match several order ids.",
            ),
            OpenApiParameter("status", OpenApiTypes.STR, many=True, enum=InvoiceStatus.values),
            OpenApiParameter(
                "textSearch", OpenApiTypes.STR, description="An invoice id or an order id."
            ),
            OpenApiParameter("startDate", OpenApiTypes.INT, description="Unix seconds."),
            OpenApiParameter("endDate", OpenApiTypes.INT, description="Unix seconds."),
            OpenApiParameter("skip", OpenApiTypes.INT),
            OpenApiParameter("take", OpenApiTypes.INT, description="0 to 100 (default 100)."),
            OpenApiParameter("includeArchived", OpenApiTypes.BOOL),
            INCLUDE_PAYMENT_METHODS,
        ],
        responses={200: InvoiceOut(many=True), **ERRORS},
        examples=[OpenApiExample("Invoices", value=INVOICE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)
        start, end = date_param(request, "startDate"), date_param(request, "endDate")
        if start is not None and end is not None and start > end:
            raise ValidationFailed(
                "startDate is after endDate",
                fields={
                    "startDate": ["startDate should not be above endDate"],
                    "endDate": ["endDate should not be below startDate"],
                },
            )
        with_methods = bool_param(request, "includePaymentMethods", False)
        invoices = invoice_list(
            merchant=merchant,
            order_ids=request.query_params.getlist("orderId"),
            statuses=choice_params(request, "status", InvoiceStatus.values),
            start=start,
            end=end,
            skip=int_param(request, "skip", 0, high=10**9) or 0,
            take=int_param(request, "take", PAGE_MAX, high=PAGE_MAX) or 0,
            include_archived=bool_param(request, "includeArchived", False),
            text=text_param(request, "textSearch"),
            payments=with_methods,
        )
        return Response([invoice_json(i, payment_methods=with_methods) for i in invoices])

    @extend_schema(
        operation_id="Invoices_CreateInvoice",
        tags=["Invoices"],
        summary="Create an invoice",
        parameters=[STORE_ID, IDEMPOTENCY_HEADER],
        request=CreateInvoiceIn,
        responses={200: InvoiceOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "BTC invoice",
                request_only=True,
                value={
                    "amount": "0.00150000",
                    "currency": "BTC",
                    "metadata": {"orderId": "A-1001", "itemDesc": "Tea"},
                    "checkout": {
                        "speedPolicy": "MediumSpeed",
                        "expirationMinutes": 15,
                        "redirectURL": "https://shop.example/orders/A-1001",
                    },
                },
            ),
            OpenApiExample(
                "KZT invoice",
                request_only=True,
                value={
                    "amount": "25000.00",
                    "currency": "KZT",
                    "metadata": {"orderId": "A-1002"},
                    "checkout": {"speedPolicy": "HighSpeed", "paymentTolerance": 1},
                },
            ),
            OpenApiExample("Created", response_only=True, value=INVOICE_EXAMPLE),
        ],
    )
    def post(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)

        def create() -> Response:
            data = self.body(CreateInvoiceIn)
            invoice = invoice_services.invoice_create(
                merchant=merchant,
                amount=data.get("amount"),
                currency=data.get("currency"),
                metadata=data.get("metadata"),
                checkout=data.get("checkout") or {},
                actor=merchant.owner,
            )
            return Response(invoice_json(invoice))

        return self.idempotent(merchant, create)


class InvoiceApi(MerchantApiView):
    """Read, update or archive one invoice."""

    required_scopes = {
        "GET": SCOPE_VIEW_INVOICES,
        "PUT": SCOPE_MODIFY_INVOICES,
        "DELETE": SCOPE_MODIFY_INVOICES,
    }

    @extend_schema(
        operation_id="Invoices_GetInvoice",
        tags=["Invoices"],
        summary="Get an invoice",
        parameters=[STORE_ID, INVOICE_ID, INCLUDE_PAYMENT_METHODS],
        responses={200: InvoiceOut, **ERRORS},
        examples=[OpenApiExample("Invoice", value=INVOICE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        with_methods = bool_param(request, "includePaymentMethods", False)
        invoice = invoice_get(
            merchant=self.merchant(store_id), invoice_id=invoice_id, payments=with_methods
        )
        return Response(invoice_json(invoice, payment_methods=with_methods))

    @extend_schema(
        operation_id="Invoices_UpdateInvoice",
        tags=["Invoices"],
        summary="Update an invoice's metadata",
        parameters=[STORE_ID, INVOICE_ID],
        request=UpdateInvoiceIn,
        responses={200: InvoiceOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "New metadata",
                request_only=True,
                value={"metadata": {"orderId": "A-1001", "itemDesc": "Green tea"}},
            ),
            OpenApiExample("Updated", value=INVOICE_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)
        data = self.body(UpdateInvoiceIn)
        invoice = invoice_services.invoice_update_metadata(
            merchant=merchant,
            invoice_id=invoice_id,
            metadata=data["metadata"],
            actor=merchant.owner,
        )
        return Response(invoice_json(invoice))

    @extend_schema(
        operation_id="Invoices_ArchiveInvoice",
        tags=["Invoices"],
        summary="Archive an invoice",
        description="Hides the invoice from lists; it keeps working and can be unarchived.",
        parameters=[STORE_ID, INVOICE_ID],
        responses={200: OpenApiResponse(description="Archived."), **ERRORS},
    )
    def delete(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)
        invoice_services.invoice_set_archived(
            merchant=merchant, invoice_id=invoice_id, archived=True, actor=merchant.owner
        )
        return Response(status=200)


class InvoiceUnarchiveApi(MerchantApiView):
    """Bring an archived invoice back into lists."""

    required_scopes = {"POST": SCOPE_MODIFY_INVOICES}

    @extend_schema(
        operation_id="Invoices_UnarchiveInvoice",
        tags=["Invoices"],
        summary="Unarchive",
        description="400 `already-unarchived` when the invoice is not archived.",
        parameters=[STORE_ID, INVOICE_ID, IDEMPOTENCY_HEADER],
        request=None,
        responses={200: InvoiceOut, **WRITE_ERRORS},
        examples=[OpenApiExample("Invoice", value=INVOICE_EXAMPLE, response_only=True)],
    )
    def post(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            invoice = invoice_services.invoice_set_archived(
                merchant=merchant, invoice_id=invoice_id, archived=False, actor=merchant.owner
            )
            return Response(invoice_json(invoice))

        return self.idempotent(merchant, run)


class InvoicePaymentMethodsApi(MerchantApiView):
    """How an invoice can be paid, and what was paid."""

    required_scopes = {"GET": SCOPE_VIEW_INVOICES}

    @extend_schema(
        operation_id="Invoices_GetInvoicePaymentMethods",
        tags=["Invoices"],
        summary="Payment methods of an invoice",
        description="`BTC-CHAIN`: the invoice's own address and BIP21 link. `BTC-ALATAU`: "
        "payment from an Alatau balance on the checkout page.",
        parameters=[STORE_ID, INVOICE_ID],
        responses={200: PaymentMethodOut(many=True), **ERRORS},
        examples=[
            OpenApiExample(
                "On-chain",
                response_only=True,
                # One item: drf-spectacular puts a list view's example in a list itself.
                value={
                    "paymentMethodId": "BTC-CHAIN",
                    "currency": "BTC",
                    "destination": "bcrt1qexampleaddress0000000000000000000000",
                    "paymentLink": "bitcoin:bcrt1qexampleaddress0000000000000000000000?amount=0.0015",
                    "rate": "1",
                    "paymentMethodPaid": "0.00000000",
                    "totalPaid": "0.00000000",
                    "due": "0.00150000",
                    "amount": "0.00150000",
                    "paymentMethodFee": "0.00000000",
                    "payments": [],
                    "activated": True,
                    "additionalData": {},
                },
            )
        ],
    )
    def get(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        invoice = invoice_get(
            merchant=self.merchant(store_id), invoice_id=invoice_id, payments=True
        )
        return Response(payment_methods_json(invoice))


class InvoiceStatusApi(MerchantApiView):
    """Mark an invoice Settled or Invalid by hand."""

    required_scopes = {"POST": SCOPE_MODIFY_INVOICES}

    @extend_schema(
        operation_id="Invoices_MarkInvoiceStatus",
        tags=["Invoices"],
        summary="Mark an invoice Settled or Invalid",
        description="Sets `additionalStatus` to `Marked`; moves no money. From a state that "
        "does not allow it: 422 at `status` (see `availableStatusesForManualMarking`).",
        parameters=[STORE_ID, INVOICE_ID, IDEMPOTENCY_HEADER],
        request=MarkStatusIn,
        responses={200: InvoiceOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Mark invalid", value={"status": "Invalid"}, request_only=True),
            OpenApiExample(
                "Marked",
                response_only=True,
                value={
                    **INVOICE_EXAMPLE,
                    "status": "Invalid",
                    "additionalStatus": "Marked",
                    "availableStatusesForManualMarking": ["Settled"],
                },
            ),
        ],
    )
    def post(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(MarkStatusIn)
            invoice = invoice_services.invoice_mark_status(
                merchant=merchant,
                invoice_id=invoice_id,
                status=data["status"],
                actor=merchant.owner,
            )
            return Response(invoice_json(invoice))

        return self.idempotent(merchant, run)


def client_ip(request: Request) -> str | None:
    return client_address(request._request)
