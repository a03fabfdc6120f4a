"""drf-spectacular: describe the API key scheme (``Authorization: token <key>``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "merchants.auth.ApiKeyAuthentication"
    name = "API_Key"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Send `Authorization: token <key>`. Create keys under "
            "/merchant/keys/ in web banking; each key carries scopes "
            "(btcpay.store.canviewinvoices, btcpay.store.cancreateinvoice, "
            "btcpay.store.canmodifyinvoices, btcpay.store.webhooks.canmodifywebhooks, "
            "btcpay.store.canviewstoresettings, alatau.store.canrefund, alatau.store.canpayout).",
        }


# Greenfield's path parameter names; Django's URL kwargs keep Python's snake case.
PATH_PARAMETERS = {
    "store_id": "storeId",
    "invoice_id": "invoiceId",
    "webhook_id": "webhookId",
    "delivery_id": "deliveryId",
    "payment_method_id": "paymentMethodId",
    "pull_payment_id": "pullPaymentId",
    "payout_id": "payoutId",
    "payment_request_id": "paymentRequestId",
}


def greenfield_path_names(
    result: dict[str, Any], generator: Any, request: Any, public: Any
) -> dict[str, Any]:
    """drf-spectacular post-processing hook: name path parameters as BTCPay's spec does."""
    paths: dict[str, Any] = {}
    for route, item in result.get("paths", {}).items():
        for old, new in PATH_PARAMETERS.items():
            route = route.replace("{" + old + "}", "{" + new + "}")
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") in PATH_PARAMETERS:
                    parameter["name"] = PATH_PARAMETERS[parameter["name"]]
        paths[route] = item
    result["paths"] = paths
    return result
