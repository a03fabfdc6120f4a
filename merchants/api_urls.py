"""Merchant API routes under ``/api/v1/``: store-scoped paths, and Greenfield's top-level aliases.

BTCPay answers both ``/stores/{storeId}/invoices/{invoiceId}`` and
``/invoices/{invoiceId}`` (likewise for webhooks); clients call either. The
aliases resolve the store from the API key and are left out of the schema.
"""

from typing import Any

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema

from merchants import api, api_funds, api_payment_requests, api_store, api_webhooks


def _alias(view: type[Any]) -> Any:
    hidden: Any = extend_schema(exclude=True)(type(f"{view.__name__}Alias", (view,), {}))
    return hidden.as_view()


S = "stores/<str:store_id>/"
I = "invoices/<str:invoice_id>"  # noqa: E741
W = "webhooks/<str:webhook_id>"
D = W + "/deliveries/<str:delivery_id>"
R = "payment-requests/<str:request_id>"

app_name = "merchants_api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("api-keys/current", api_store.CurrentKeyApi.as_view(), name="api-key-current"),
    path("stores", api_store.StoresApi.as_view(), name="stores"),
    path("stores/<str:store_id>", api_store.StoreApi.as_view(), name="store"),
    path(S + "invoices", api.InvoicesApi.as_view(), name="invoices"),
    path(S + I, api.InvoiceApi.as_view(), name="invoice"),
    path(
        S + I + "/payment-methods",
        api.InvoicePaymentMethodsApi.as_view(),
        name="invoice-payment-methods",
    ),
    path(S + I + "/status", api.InvoiceStatusApi.as_view(), name="invoice-status"),
    path(S + I + "/unarchive", api.InvoiceUnarchiveApi.as_view(), name="invoice-unarchive"),
    path(S + I + "/refunds", api_funds.InvoiceRefundsApi.as_view(), name="invoice-refunds"),
    path(S + "webhooks", api_webhooks.WebhooksApi.as_view(), name="webhooks"),
    path(S + W, api_webhooks.WebhookApi.as_view(), name="webhook"),
    path(S + W + "/deliveries", api_webhooks.DeliveriesApi.as_view(), name="deliveries"),
    path(S + D, api_webhooks.DeliveryApi.as_view(), name="delivery"),
    path(S + D + "/request", api_webhooks.DeliveryRequestApi.as_view(), name="delivery-request"),
    path(
        S + D + "/redeliver", api_webhooks.DeliveryRedeliverApi.as_view(), name="delivery-redeliver"
    ),
    path(S + "balance", api_funds.BalanceApi.as_view(), name="balance"),
    path(S + "transactions", api_funds.TransactionsApi.as_view(), name="transactions"),
    path(S + "payouts", api_funds.PayoutsApi.as_view(), name="payouts"),
    path(S + "conversions", api_funds.ConversionsApi.as_view(), name="conversions"),
    path(
        S + "payment-requests",
        api_payment_requests.PaymentRequestsApi.as_view(),
        name="payment-requests",
    ),
    path(S + R, api_payment_requests.PaymentRequestApi.as_view(), name="payment-request"),
    path(
        S + R + "/pay",
        api_payment_requests.PaymentRequestPayApi.as_view(),
        name="payment-request-pay",
    ),
    # Greenfield's top-level forms.
    path(R, _alias(api_payment_requests.PaymentRequestApi)),
    path(R + "/pay", _alias(api_payment_requests.PaymentRequestPayApi)),
    path(I, _alias(api.InvoiceApi)),
    path(I + "/payment-methods", _alias(api.InvoicePaymentMethodsApi)),
    path(I + "/status", _alias(api.InvoiceStatusApi)),
    path(I + "/unarchive", _alias(api.InvoiceUnarchiveApi)),
    path(I + "/refunds", _alias(api_funds.InvoiceRefundsApi)),
    path(W, _alias(api_webhooks.WebhookApi)),
    path(W + "/deliveries", _alias(api_webhooks.DeliveriesApi)),
    path(D, _alias(api_webhooks.DeliveryApi)),
    path(D + "/request", _alias(api_webhooks.DeliveryRequestApi)),
    path(D + "/redeliver", _alias(api_webhooks.DeliveryRedeliverApi)),
]
