"""Greenfield's server info and health, the store's payment methods, and method activation."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from importlib import metadata
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from custody.node import node_client
from merchants.api import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    INVOICE_ID,
    STORE_ID,
    WRITE_ERRORS,
    MerchantApiView,
)
from merchants.api_errors import MissingPermission
from merchants.api_params import bool_param
from merchants.auth import IsApiKey
from merchants.errors import PaymentMethodUnknown
from merchants.models import PaymentMethod
from merchants.services.invoices import invoice_payment_method_activate
from merchants.services.keys import SCOPE_VIEW_INVOICES, SCOPE_VIEW_STORE

logger = logging.getLogger(__name__)
NODE_PROBE_TIMEOUT_S = 3.0
SCOPE_MODIFY_STORE = "btcpay.store.canmodifystoresettings"
PAYMENT_METHOD_ID = OpenApiParameter(
    "payment_method_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=PaymentMethod.values,
    description="BTC-CHAIN (the invoice's own address) or BTC-ALATAU (an Alatau balance).",
)


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": "The node's own sync state; null when the node is not reachable.",
        "properties": {
            "headers": {"type": "integer"},
            "blocks": {"type": "integer"},
            "verificationProgress": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["headers", "blocks", "verificationProgress"],
    }
)
class NodeStatusField(serializers.JSONField):
    """Greenfield's ``ApplicationServerInfoNodeStatusData`` (nullable object)."""


class SyncStatusOut(serializers.Serializer):
    paymentMethodId = serializers.CharField()
    nodeInformation = NodeStatusField(allow_null=True)
    chainHeight = serializers.IntegerField()
    syncHeight = serializers.IntegerField(allow_null=True)
    available = serializers.BooleanField()


class ServerInfoOut(serializers.Serializer):
    version = serializers.CharField()
    supportedPaymentMethods = serializers.ListField(child=serializers.CharField())
    fullySynched = serializers.BooleanField()
    syncStatus = SyncStatusOut(many=True)


class HealthOut(serializers.Serializer):
    synchronized = serializers.BooleanField()


class StorePaymentMethodOut(serializers.Serializer):
    enabled = serializers.BooleanField()
    paymentMethodId = serializers.ChoiceField(choices=PaymentMethod.values)
    config = serializers.DictField(required=False, help_text="With includeConfig=true only.")


def _version() -> str:
    try:
        return metadata.version("alatau")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def node_sync() -> dict[str, Any]:
    """The node's sync state as Greenfield's ``ApplicationServerInfoSyncStatusData``."""
    try:
        client = node_client().with_timeout(NODE_PROBE_TIMEOUT_S, attempts_max=1)
        info = client.call("getblockchaininfo")
    except Exception as exc:  # any failure to reach the node means "not available", never a 500
        logger.warning("server info: node not reachable: %s", type(exc).__name__)
        info = None
    if not isinstance(info, dict):
        return {
            "paymentMethodId": PaymentMethod.CHAIN.value,
            "nodeInformation": None,
            "chainHeight": 0,
            "syncHeight": None,
            "available": False,
        }
    headers, blocks = int(info.get("headers", 0)), int(info.get("blocks", 0))
    progress = _ratio(info.get("verificationprogress", 0))
    synced = not info.get("initialblockdownload", False) and blocks >= headers
    return {
        "paymentMethodId": PaymentMethod.CHAIN.value,
        "nodeInformation": {
            "headers": headers,
            "blocks": blocks,
            "verificationProgress": progress,
        },
        "chainHeight": headers,
        "syncHeight": blocks,
        "available": synced,
    }


def _ratio(value: Any) -> Decimal:
    """bitcoind's progress (a Decimal from the RPC client) clamped to [0, 1], 8 places."""
    try:
        ratio = Decimal(str(value)).quantize(Decimal("0.00000001"))
    except InvalidOperation:
        return Decimal(0)
    return min(max(ratio, Decimal(0)), Decimal(1)) if ratio.is_finite() else Decimal(0)


def _onchain_enabled() -> bool:
    return bool(getattr(settings, "MERCHANT_INVOICE_ONCHAIN", True))


class ServerInfoApi(MerchantApiView):
    """What this server is: version, payment methods, the node's sync state."""

    permission_classes = [IsApiKey]  # any valid key, as in BTCPay

    @extend_schema(
        operation_id="ServerInfo_GetServerInfo",
        tags=["ServerInfo"],
        summary="Get server information",
        responses={200: ServerInfoOut, **ERRORS},
        examples=[
            OpenApiExample(
                "Info",
                response_only=True,
                value={
                    "version": "0.1.0",
                    "supportedPaymentMethods": ["BTC-CHAIN", "BTC-ALATAU"],
                    "fullySynched": True,
                    "syncStatus": [
                        {
                            "paymentMethodId": "BTC-CHAIN",
                            "nodeInformation": {
                                "headers": 840000,
                                "blocks": 840000,
                                "verificationProgress": 1.0,
                            },
                            "chainHeight": 840000,
                            "syncHeight": 840000,
                            "available": True,
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        sync = node_sync()
        return Response(
            {
                "version": _version(),
                "supportedPaymentMethods": PaymentMethod.values,
                "fullySynched": sync["available"],
                "syncStatus": [sync],
            }
        )


class HealthApi(MerchantApiView):
    """Is the server up and its node synchronised? No key needed (as in BTCPay)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        operation_id="Health_GetHealth",
        tags=["Health"],
        summary="Get health status",
        auth=[],
        responses={200: HealthOut},
        examples=[OpenApiExample("Up", response_only=True, value={"synchronized": True})],
    )
    def get(self, request: Request) -> Response:
        return Response({"synchronized": bool(node_sync()["available"])})


def store_payment_method_json(method: str, *, config: bool) -> dict[str, Any]:
    enabled = method != PaymentMethod.CHAIN or _onchain_enabled()
    out: dict[str, Any] = {"enabled": enabled, "paymentMethodId": method}
    if config:
        out["config"] = {}  # the bank's custody holds the keys: nothing for a store to configure
    return out


def _include_config(request: Request) -> bool:
    if bool_param(request, "includeConfig", False):
        raise MissingPermission(SCOPE_MODIFY_STORE)  # no Alatau key holds it
    return False


class StorePaymentMethodsApi(MerchantApiView):
    """The payment methods of the store."""

    required_scopes = {"GET": SCOPE_VIEW_STORE}

    @extend_schema(
        operation_id="StorePaymentMethods_GetStorePaymentMethods",
        tags=["Store (Payment Methods)"],
        summary="Get store payment methods",
        parameters=[
            STORE_ID,
            OpenApiParameter("onlyEnabled", OpenApiTypes.BOOL),
            OpenApiParameter(
                "includeConfig",
                OpenApiTypes.BOOL,
                description="`true` needs btcpay.store.canmodifystoresettings (403).",
            ),
        ],
        responses={200: StorePaymentMethodOut(many=True), **ERRORS},
        examples=[
            OpenApiExample(
                "Methods",
                response_only=True,
                value={"enabled": True, "paymentMethodId": "BTC-CHAIN"},  # listed by spectacular
            )
        ],
    )
    def get(self, request: Request, store_id: str) -> Response:
        self.merchant(store_id)
        only_enabled = bool_param(request, "onlyEnabled", False)
        config = _include_config(request)
        methods = [store_payment_method_json(m, config=config) for m in PaymentMethod.values]
        return Response([m for m in methods if m["enabled"] or not only_enabled])


class StorePaymentMethodApi(MerchantApiView):
    """One payment method of the store."""

    required_scopes = {"GET": SCOPE_VIEW_STORE}

    @extend_schema(
        operation_id="StorePaymentMethods_GetStorePaymentMethod",
        tags=["Store (Payment Methods)"],
        summary="Get store payment method",
        parameters=[
            STORE_ID,
            PAYMENT_METHOD_ID,
            OpenApiParameter("includeConfig", OpenApiTypes.BOOL),
        ],
        responses={200: StorePaymentMethodOut, **ERRORS},
        examples=[
            OpenApiExample(
                "Method",
                response_only=True,
                value={"enabled": True, "paymentMethodId": "BTC-CHAIN"},
            )
        ],
    )
    def get(self, request: Request, store_id: str, payment_method_id: str) -> Response:
        self.merchant(store_id)
        config = _include_config(request)
        if payment_method_id not in PaymentMethod.values:
            raise PaymentMethodUnknown()
        return Response(store_payment_method_json(payment_method_id, config=config))


class ActivatePaymentMethodApi(MerchantApiView):
    """Activate an invoice's payment method (its on-chain address, if it has none yet)."""

    required_scopes = {"POST": SCOPE_VIEW_INVOICES}

    @extend_schema(
        operation_id="Invoices_ActivatePaymentMethod",
        tags=["Invoices"],
        summary="Activate Payment Method",
        description="Alatau activates every method at creation, so this is needed only when the "
        "node was unreachable then: BTC-CHAIN gets its address now. An unknown method is 422.",
        parameters=[STORE_ID, INVOICE_ID, PAYMENT_METHOD_ID, IDEMPOTENCY_HEADER],
        request=None,
        responses={200: OpenApiResponse(description="Activated."), **WRITE_ERRORS},
    )
    def post(
        self,
        request: Request,
        invoice_id: str,
        payment_method_id: str,
        store_id: str | None = None,
    ) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            invoice_payment_method_activate(
                merchant=merchant,
                invoice_id=invoice_id,
                method=payment_method_id,
                actor=merchant.owner,
            )
            return Response(status=200)

        return self.idempotent(merchant, run)
