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
