"""The store itself and the calling key, as Greenfield clients check them on setup.

Not in the invoice/webhook reference file, but BTCPay plugins (WooCommerce and
others) call ``GET /api/v1/api-keys/current`` and ``GET /api/v1/stores/{storeId}``
to verify a key before use, so Alatau answers them in the same shape.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from merchants.api import ERRORS, STORE_ID, MerchantApiView
from merchants.auth import IsApiKey
from merchants.models import Merchant
from merchants.services.invoice_input import EXPIRATION_MINUTES_DEFAULT
from merchants.services.keys import SCOPE_VIEW_STORE, SCOPES, scopes_effective


class StoreOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    website = serializers.CharField(allow_null=True)
    defaultCurrency = serializers.CharField(
        help_text="The currency of an invoice created without one (BTC unless staff set another)."
    )
    speedPolicy = serializers.CharField()
    invoiceExpiration = serializers.IntegerField(help_text="Seconds.")
    monitoringExpiration = serializers.IntegerField(help_text="Seconds.")
    paymentTolerance = serializers.IntegerField()
    archived = serializers.BooleanField()


class ApiKeyOut(serializers.Serializer):
    apiKey = serializers.CharField()
    # DRF's metaclass takes declared fields out of the class, so this does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    permissions = serializers.ListField(child=serializers.CharField())


STORE_EXAMPLE = {
    "id": "9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776",
    "name": "Tea House",
    "website": None,
    "defaultCurrency": "BTC",
    "speedPolicy": "MediumSpeed",
    "invoiceExpiration": 900,
    "monitoringExpiration": 86400,
    "paymentTolerance": 0,
    "archived": False,
}


def store_json(merchant: Merchant) -> dict[str, Any]:
    return {
        "id": merchant.store_id,
        "name": merchant.name,
        "website": None,
        "defaultCurrency": merchant.default_currency,
        "speedPolicy": "MediumSpeed",
        "invoiceExpiration": EXPIRATION_MINUTES_DEFAULT * 60,
        "monitoringExpiration": 86400,
        "paymentTolerance": 0,
        "archived": not merchant.is_active,
    }


class StoresApi(MerchantApiView):
    """The stores this key can see (its own)."""

    required_scopes = {"GET": SCOPE_VIEW_STORE}

    @extend_schema(
        operation_id="Stores_GetStores",
        tags=["Store"],
        summary="Stores of this key",
        responses={200: StoreOut(many=True), **ERRORS},
        examples=[OpenApiExample("Stores", value=STORE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response([store_json(self.api_key.merchant)])


class StoreApi(MerchantApiView):
    """One store."""

    required_scopes = {"GET": SCOPE_VIEW_STORE}

    @extend_schema(
        operation_id="Stores_GetStore",
        tags=["Store"],
        summary="The store",
        parameters=[STORE_ID],
        responses={200: StoreOut, **ERRORS},
        examples=[OpenApiExample("Store", value=STORE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, store_id: str) -> Response:
        return Response(store_json(self.merchant(store_id)))


class CurrentKeyApi(MerchantApiView):
    """The calling API key and its permissions."""

    permission_classes = [IsApiKey]  # any valid key may read itself

    @extend_schema(
        operation_id="ApiKeys_GetCurrentApiKey",
        tags=["Store"],
        summary="The calling key",
        description="Permissions are store-scoped as in BTCPay: `<permission>:<storeId>`.",
        responses={200: ApiKeyOut, **ERRORS},
        examples=[
            OpenApiExample(
                "Key",
                response_only=True,
                value={
                    "apiKey": "3f1c0b8e9d2a4c6b8e0f1a2b3c4d5e6f7a8b9c0d",
                    "label": "web shop",
                    "permissions": [
                        "btcpay.store.cancreateinvoice:9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776"
                    ],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        key = self.api_key
        token = request.META.get("HTTP_AUTHORIZATION", "").split()[-1]
        store = key.merchant.store_id
        scopes = sorted(s for s in scopes_effective(key.scopes) if s in SCOPES)
        return Response(
            {"apiKey": token, "label": key.label, "permissions": [f"{s}:{store}" for s in scopes]}
        )
