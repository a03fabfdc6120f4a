"""Webhook endpoints (Greenfield): configure, list deliveries, read a request, redeliver."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from merchants.api import ERRORS, IDEMPOTENCY_HEADER, STORE_ID, WRITE_ERRORS, MerchantApiView
from merchants.api_params import int_param
from merchants.models import DeliveryStatus, Webhook, WebhookDelivery
from merchants.presenters import unix
from merchants.selectors import delivery_get, delivery_list, webhook_get, webhook_list
from merchants.serializers import DeliveryOut, WebhookCreatedOut, WebhookIn, WebhookOut
from merchants.services import webhooks as webhook_services
from merchants.services.keys import SCOPE_WEBHOOKS

WEBHOOK_ID = OpenApiParameter("webhook_id", OpenApiTypes.STR, OpenApiParameter.PATH)
DELIVERY_ID = OpenApiParameter("delivery_id", OpenApiTypes.STR, OpenApiParameter.PATH)
WEBHOOK_EXAMPLE = {
    "id": "Kx1uPjTTsWg2fMF3SvUuzs",
    "enabled": True,
    "automaticRedelivery": True,
    "url": "https://shop.example/btcpay/webhook",
    "authorizedEvents": {"everything": False, "specificEvents": ["InvoiceSettled"]},
}
WEBHOOK_IN_EXAMPLE = {
    "url": "https://shop.example/btcpay/webhook",
    "enabled": True,
    "automaticRedelivery": True,
    "authorizedEvents": {"everything": False, "specificEvents": ["InvoiceSettled"]},
}
DELIVERY_EXAMPLE = {
    "id": "7bK3yQ5eGuJ9fW2Xo1sRtP",
    "timestamp": 1764000000,
    "deliveryTime": 1764000001,
    "httpCode": 200,
    "errorMessage": "",
    "status": "HttpSuccess",
    "alatauStatus": "HttpSuccess",
    "eventType": "InvoiceSettled",
    "attempts": [
        {
            "number": 1,
            "startedTime": 1764000001,
            "httpCode": 200,
            "responseTimeMs": 38,
            "errorMessage": "",
        }
    ],
}


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "enabled": webhook.enabled,
        "automaticRedelivery": webhook.automatic_redelivery,
        "url": webhook.url,
        "authorizedEvents": {
            "everything": webhook.everything,
            "specificEvents": list(webhook.specific_events),
        },
    }


def greenfield_delivery_status(delivery: WebhookDelivery) -> str:
    """BTCPay's ``Failed`` / ``HttpError`` / ``HttpSuccess`` for a delivery.

    BTCPay has no pending state; a delivery waiting for its first attempt is not
    delivered (``Failed``), one waiting for a retry keeps its last attempt's answer.
    """
    if delivery.status != DeliveryStatus.PENDING:
        return str(delivery.status)
    return DeliveryStatus.HTTP_ERROR if delivery.http_code else DeliveryStatus.FAILED


def _pending_note(delivery: WebhookDelivery) -> str:
    if delivery.status != DeliveryStatus.PENDING:
        return ""
    return "Queued for delivery." if not delivery.attempt_count else "Waiting to retry."


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": delivery.id,
        "timestamp": unix(delivery.created_at),
        "httpCode": delivery.http_code,
        "errorMessage": delivery.error_message or _pending_note(delivery),
        "status": greenfield_delivery_status(delivery),
        "alatauStatus": delivery.status,
        "eventType": delivery.event_type,
        "attempts": [
            {
                "number": a.number,
                "startedTime": unix(a.started_at),
                "httpCode": a.status_code,
                "responseTimeMs": a.response_ms,
                "errorMessage": a.error,
            }
            for a in delivery.attempts.all()
        ],
    }
    if delivery.delivered_at is not None:  # absent until the first attempt
        out["deliveryTime"] = unix(delivery.delivered_at)
    return out


def _service_args(data: dict[str, Any]) -> dict[str, Any]:
    events = data.get("authorizedEvents") or {}
    return {
        "url": data["url"],
        "secret": data.get("secret") or None,
        "enabled": data.get("enabled", True),
        "automatic_redelivery": data.get("automaticRedelivery", True),
        "everything": events.get("everything", True),
        "specific_events": list(events.get("specificEvents", [])),
    }


class WebhooksApi(MerchantApiView):
    """List and register webhooks."""

    required_scopes = {"GET": SCOPE_WEBHOOKS, "POST": SCOPE_WEBHOOKS}

    @extend_schema(
        operation_id="Webhooks_GetWebhooks",
        tags=["Webhooks"],
        summary="List webhooks",
        parameters=[STORE_ID],
        responses={200: WebhookOut(many=True), **ERRORS},
        examples=[OpenApiExample("Webhooks", value=WEBHOOK_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, store_id: str) -> Response:
        return Response([webhook_json(w) for w in webhook_list(merchant=self.merchant(store_id))])

    @extend_schema(
        operation_id="Webhooks_CreateWebhook",
        tags=["Webhooks"],
        summary="Create a webhook",
        description="Without `secret` one is generated. The secret is returned only here.",
        parameters=[STORE_ID, IDEMPOTENCY_HEADER],
        request=WebhookIn,
        responses={200: WebhookCreatedOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Create", value=WEBHOOK_IN_EXAMPLE, request_only=True),
            OpenApiExample(
                "Created",
                response_only=True,
                value={**WEBHOOK_EXAMPLE, "secret": "3Kq0v4m1...keep-it-safe"},
            ),
        ],
    )
    def post(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(WebhookIn)
            webhook = webhook_services.webhook_create(
                merchant=merchant, actor=merchant.owner, **_service_args(data)
            )
            return Response({**webhook_json(webhook), "secret": webhook.secret})

        return self.idempotent(merchant, run)


class WebhookApi(MerchantApiView):
    """Read, replace or delete one webhook."""

    required_scopes = {"GET": SCOPE_WEBHOOKS, "PUT": SCOPE_WEBHOOKS, "DELETE": SCOPE_WEBHOOKS}

    @extend_schema(
        operation_id="Webhooks_GetWebhook",
        tags=["Webhooks"],
        summary="Get a webhook",
        parameters=[STORE_ID, WEBHOOK_ID],
        responses={200: WebhookOut, **ERRORS},
        examples=[OpenApiExample("Webhook", value=WEBHOOK_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, webhook_id: str, store_id: str | None = None) -> Response:
        return Response(
            webhook_json(webhook_get(merchant=self.merchant(store_id), webhook_id=webhook_id))
        )

    @extend_schema(
        operation_id="Webhooks_UpdateWebhook",
        tags=["Webhooks"],
        summary="Update a webhook",
        description="An empty or missing `secret` keeps the current one.",
        parameters=[STORE_ID, WEBHOOK_ID],
        request=WebhookIn,
        responses={200: WebhookOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Update", value=WEBHOOK_IN_EXAMPLE, request_only=True),
            OpenApiExample("Updated", value=WEBHOOK_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request, webhook_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)
        data = self.body(WebhookIn)
        webhook = webhook_services.webhook_update(
            merchant=merchant, webhook_id=webhook_id, actor=merchant.owner, **_service_args(data)
        )
        return Response(webhook_json(webhook))

    @extend_schema(
        operation_id="Webhooks_DeleteWebhook",
        tags=["Webhooks"],
        summary="Delete a webhook",
        parameters=[STORE_ID, WEBHOOK_ID],
        responses={200: None, **ERRORS},
    )
    def delete(self, request: Request, webhook_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)
        webhook_services.webhook_delete(
            merchant=merchant, webhook_id=webhook_id, actor=merchant.owner
        )
        return Response(status=200)


class DeliveriesApi(MerchantApiView):
    """The latest deliveries of a webhook."""

    required_scopes = {"GET": SCOPE_WEBHOOKS}

    @extend_schema(
        operation_id="Webhooks_GetWebhookDeliveries",
        tags=["Webhooks"],
        summary="Latest deliveries of a webhook, newest first",
        parameters=[
            STORE_ID,
            WEBHOOK_ID,
            OpenApiParameter("count", OpenApiTypes.INT, description="At most 100."),
        ],
        responses={200: DeliveryOut(many=True), **ERRORS},
        examples=[OpenApiExample("Deliveries", value=DELIVERY_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, webhook_id: str, store_id: str | None = None) -> Response:
        deliveries = delivery_list(
            merchant=self.merchant(store_id),
            webhook_id=webhook_id,
            count=int_param(request, "count", 50, low=1, high=100) or 50,
        )
        return Response([delivery_json(d) for d in deliveries])


class DeliveryApi(MerchantApiView):
    """One delivery with its attempts."""

    required_scopes = {"GET": SCOPE_WEBHOOKS}

    @extend_schema(
        operation_id="Webhooks_GetWebhookDelivery",
        tags=["Webhooks"],
        summary="One delivery",
        parameters=[STORE_ID, WEBHOOK_ID, DELIVERY_ID],
        responses={200: DeliveryOut, **ERRORS},
        examples=[OpenApiExample("Delivery", value=DELIVERY_EXAMPLE, response_only=True)],
    )
    def get(
        self, request: Request, webhook_id: str, delivery_id: str, store_id: str | None = None
    ) -> Response:
        return Response(
            delivery_json(
                delivery_get(
                    merchant=self.merchant(store_id), webhook_id=webhook_id, delivery_id=delivery_id
                )
            )
        )


class DeliveryRequestApi(MerchantApiView):
    """The exact JSON body of a delivery."""

    required_scopes = {"GET": SCOPE_WEBHOOKS}

    @extend_schema(
        operation_id="Webhooks_GetWebhookDeliveryRequests",
        tags=["Webhooks"],
        summary="The JSON body that was (or will be) sent",
        parameters=[STORE_ID, WEBHOOK_ID, DELIVERY_ID],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        examples=[
            OpenApiExample(
                "Body",
                response_only=True,
                value={
                    "deliveryId": "7bK3yQ5eGuJ9fW2Xo1sRtP",
                    "webhookId": "Kx1uPjTTsWg2fMF3SvUuzs",
                    "originalDeliveryId": "7bK3yQ5eGuJ9fW2Xo1sRtP",
                    "isRedelivery": False,
                    "type": "InvoiceSettled",
                    "timestamp": 1764000000,
                    "storeId": "9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776",
                    "invoiceId": "HMprBnL9BTXWuPvpoKBS6e",
                    "metadata": {"orderId": "A-1001"},
                    "manuallyMarked": False,
                    "overPaid": False,
                },
            )
        ],
    )
    def get(
        self, request: Request, webhook_id: str, delivery_id: str, store_id: str | None = None
    ) -> Response:
        delivery = delivery_get(
            merchant=self.merchant(store_id), webhook_id=webhook_id, delivery_id=delivery_id
        )
        return Response(json.loads(delivery.body))


class DeliveryRedeliverApi(MerchantApiView):
    """Send a delivery again."""

    required_scopes = {"POST": SCOPE_WEBHOOKS}

    @extend_schema(
        operation_id="Webhooks_RedeliverWebhookDelivery",
        tags=["Webhooks"],
        summary="Redeliver",
        description="Returns the new delivery id (a JSON string); the "
        "body is the original one with `isRedelivery: true` and `originalDeliveryId`.",
        parameters=[STORE_ID, WEBHOOK_ID, DELIVERY_ID, IDEMPOTENCY_HEADER],
        request=None,
        responses={200: OpenApiResponse(OpenApiTypes.STR), **WRITE_ERRORS},
        examples=[OpenApiExample("New id", value="9rTq2hZ1nK8mW4xYb3sVcL", response_only=True)],
    )
    def post(
        self, request: Request, webhook_id: str, delivery_id: str, store_id: str | None = None
    ) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            new_id = webhook_services.webhook_redeliver(
                merchant=merchant,
                webhook_id=webhook_id,
                delivery_id=delivery_id,
                actor=merchant.owner,
            )
            return Response(new_id)

        return self.idempotent(merchant, run)
