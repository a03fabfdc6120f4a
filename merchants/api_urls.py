"""Merchant API routes under ``/api/v1/``: store-scoped paths, and Greenfield's top-level aliases.

BTCPay answers both ``/stores/{storeId}/invoices/{invoiceId}`` and
``/invoices/{invoiceId}`` (likewise for webhooks); clients call either. The
aliases resolve the store from the API key and are left out of the schema.
ASP.NET routing accepts a trailing slash on every route and clients send one,
so every route is also answered with it (hidden from the schema too). Any
other path under ``/api/v1/`` answers a JSON 404.
"""

from typing import Any

from django.urls import URLPattern, URLResolver, path, re_path
from drf_spectacular.utils import extend_schema

from merchants import (
    api,
    api_funds,
    api_payment_requests,
    api_payouts,
    api_pull,
    api_server,
    api_store,
    api_webhooks,
)
from merchants import ids as _ids  # noqa: F401 - registers the <pid:> converter
from merchants.api_errors import api_not_found


def _alias(view: type[Any]) -> Any:
    hidden: Any = extend_schema(exclude=True)(type(f"{view.__name__}Alias", (view,), {}))
    return hidden.as_view()


def route(rule: str, view: type[Any], name: str | None = None) -> list[URLPattern]:
    """The route as documented, and the same with a trailing slash (not in the schema)."""
    main = path(rule, view.as_view(), name=name) if name else path(rule, _alias(view))
    return [main, path(rule + "/", _alias(view))]


S = "stores/<pid:store_id>/"
I = "invoices/<pid:invoice_id>"  # noqa: E741
W = "webhooks/<pid:webhook_id>"
D = W + "/deliveries/<pid:delivery_id>"
PM = "/payment-methods/<pid:payment_method_id>"
P = "pull-payments/<pid:pull_payment_id>"
R = "payment-requests/<pid:payment_request_id>"
O = "payouts/<pid:payout_id>"  # noqa: E741

# The hottest routes first: Django tries the patterns in order, and on a match it copies
# every pattern tried before it into the match (``ResolverMatch.tried``). No two routes
# match the same path, so the order changes nothing else (the schema sorts its paths).
ROUTES: list[tuple[str, type[Any], str | None]] = [
    (S + "invoices", api.InvoicesApi, "invoices"),
    (S + I, api.InvoiceApi, "invoice"),
    ("server/info", api_server.ServerInfoApi, "server-info"),
    ("health", api_server.HealthApi, "health"),
    ("api-keys/current", api_store.CurrentKeyApi, "api-key-current"),
    ("stores", api_store.StoresApi, "stores"),
    ("stores/<pid:store_id>", api_store.StoreApi, "store"),
    (S + "payment-methods", api_server.StorePaymentMethodsApi, "store-payment-methods"),
    (S + PM[1:], api_server.StorePaymentMethodApi, "store-payment-method"),
    (S + I + "/payment-methods", api.InvoicePaymentMethodsApi, "invoice-payment-methods"),
    (S + I + PM + "/activate", api_server.ActivatePaymentMethodApi, "invoice-pm-activate"),
    (S + I + "/status", api.InvoiceStatusApi, "invoice-status"),
    (S + I + "/unarchive", api.InvoiceUnarchiveApi, "invoice-unarchive"),
    (S + I + "/refunds", api_funds.InvoiceRefundsApi, "invoice-refunds"),
    (S + I + "/refund", api_pull.InvoiceRefundApi, "invoice-refund"),
    (S + "pull-payments", api_pull.StorePullPaymentsApi, "pull-payments"),
    (P, api_pull.PullPaymentApi, "pull-payment"),
    (P + "/payouts", api_pull.PullPaymentPayoutsApi, "pull-payment-payouts"),
    (P + "/" + O, api_pull.PullPaymentPayoutApi, "pull-payment-payout"),
    (S + "payouts", api_payouts.StorePayoutsApi, "payouts"),
    (O, api_payouts.PayoutApi, "payout"),
    (O + "/mark-paid", api_payouts.PayoutMarkPaidApi, "payout-mark-paid"),
    (O + "/mark", api_payouts.PayoutMarkApi, "payout-mark"),
    (S + "webhooks", api_webhooks.WebhooksApi, "webhooks"),
    (S + W, api_webhooks.WebhookApi, "webhook"),
    (S + W + "/deliveries", api_webhooks.DeliveriesApi, "deliveries"),
    (S + D, api_webhooks.DeliveryApi, "delivery"),
    (S + D + "/request", api_webhooks.DeliveryRequestApi, "delivery-request"),
    (S + D + "/redeliver", api_webhooks.DeliveryRedeliverApi, "delivery-redeliver"),
    (S + "balance", api_funds.BalanceApi, "balance"),
    (S + "transactions", api_funds.TransactionsApi, "transactions"),
    (S + "conversions", api_funds.ConversionsApi, "conversions"),
    (S + "payment-requests", api_payment_requests.PaymentRequestsApi, "payment-requests"),
    (S + R, api_payment_requests.PaymentRequestApi, "payment-request"),
    (S + R + "/pay", api_payment_requests.PaymentRequestPayApi, "payment-request-pay"),
    # Greenfield's top-level forms.
    (R, api_payment_requests.PaymentRequestApi, None),
    (R + "/pay", api_payment_requests.PaymentRequestPayApi, None),
    (I, api.InvoiceApi, None),
    (I + "/payment-methods", api.InvoicePaymentMethodsApi, None),
    (I + PM + "/activate", api_server.ActivatePaymentMethodApi, None),
    (I + "/status", api.InvoiceStatusApi, None),
    (I + "/unarchive", api.InvoiceUnarchiveApi, None),
    (I + "/refunds", api_funds.InvoiceRefundsApi, None),
    (I + "/refund", api_pull.InvoiceRefundApi, None),
    (S + P, api_pull.StorePullPaymentApi, None),
    (S + O, api_payouts.PayoutApi, None),
    (S + O + "/mark-paid", api_payouts.PayoutMarkPaidApi, None),
    (S + O + "/mark", api_payouts.PayoutMarkApi, None),
    (W, api_webhooks.WebhookApi, None),
    (W + "/deliveries", api_webhooks.DeliveriesApi, None),
    (D, api_webhooks.DeliveryApi, None),
    (D + "/request", api_webhooks.DeliveryRequestApi, None),
    (D + "/redeliver", api_webhooks.DeliveryRedeliverApi, None),
]

app_name = "merchants_api"
urlpatterns: list[URLPattern | URLResolver] = [
    pattern for rule, view, name in ROUTES for pattern in route(rule, view, name)
]
urlpatterns.append(re_path(r"^[\s\S]*$", api_not_found))  # newlines too
