"""The generated OpenAPI schema: valid, documented with examples, and true to the responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from accounts.models import Account, User
from exchange.services import exchange_rate_set
from merchants.services.payments import invoice_pay_in_bank
from tests.conftest import fund
from tests.merchants.conftest import store_url
from tests.merchants.test_funds import ADDRESS

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec() -> dict[str, Any]:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _merchant_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]


def test_schema_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["API_Key"]["name"] == "Authorization"


def test_every_operation_has_examples_and_errors(spec: dict[str, Any]) -> None:
    operations = _merchant_operations(spec)
    assert len(operations) >= 22
    for path, method, op in operations:
        assert op.get("operationId") and op.get("summary"), (path, method)
        assert {"401", "403", "404", "429"} <= set(op["responses"]), (path, method)
        ok = op["responses"]["200"]
        if "content" in ok:
            assert ok["content"]["application/json"].get("examples"), f"{method} {path}"
        if "requestBody" in op:
            assert op["requestBody"]["content"]["application/json"].get("examples"), path
        if method == "post":
            assert any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])), path


def test_docs_page(client: Client) -> None:
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/schema/" in html  # the viewer loads this project's schema
    assert "swagger-ui" in html.lower() or "redoc" in html.lower()


class Contract:
    """Validate real responses against the 200 schema the API publishes for that operation.

    OpenAPI 3.0 semantics (``nullable``, boolean ``exclusiveMaximum``) via
    openapi-schema-validator's OAS30 validator; ``$ref``s resolve in the document.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.checked: set[tuple[str, str]] = set()

    def check(self, method: str, template: str, body: Any) -> None:
        op = self.spec["paths"][template][method]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        OAS30Validator({**schema, "components": self.spec["components"]}).validate(body)
        self.checked.add((method, template))


def test_responses_match_the_published_schema(
    spec: dict[str, Any],
    api: APIClient,
    merchant: Any,
    make_user: Callable[..., User],
    funded_account: Callable[..., Account],
) -> None:
    contract = Contract(spec)
    s = "/api/v1/stores/{store_id}/"
    created = api.post(
        store_url(merchant, "invoices"),
        {"amount": "0.001", "metadata": {"orderId": "c-1"}, "checkout": {"paymentTolerance": 2.5}},
        format="json",
    ).json()
    contract.check("post", s + "invoices", created)
    iid = created["id"]
    with pytest.raises(ValidationError):  # the check has teeth
        contract.check("post", s + "invoices", {**created, "status": "Bogus"})
    with pytest.raises(ValidationError):
        contract.check("post", s + "invoices", {**created, "createdTime": "yesterday"})
    contract.check("get", s + "invoices", api.get(store_url(merchant, "invoices")).json())
    contract.check(
        "get", s + "invoices/{invoice_id}", api.get(store_url(merchant, f"invoices/{iid}")).json()
    )
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    invoice_pay_in_bank(invoice_id=iid, payer=customer, account_id=wallet.pk)
    contract.check(
        "get",
        s + "invoices/{invoice_id}/payment-methods",
        api.get(store_url(merchant, f"invoices/{iid}/payment-methods")).json(),
    )
    contract.check(
        "post",
        s + "invoices/{invoice_id}/refunds",
        api.post(
            store_url(merchant, f"invoices/{iid}/refunds"),
            {"method": "InBank", "amount": "0.0001"},
            format="json",
        ).json(),
    )
    contract.check(
        "post",
        s + "invoices/{invoice_id}/status",
        api.post(
            store_url(merchant, f"invoices/{iid}/status"), {"status": "Invalid"}, format="json"
        ).json(),
    )
    contract.check(
        "put",
        s + "invoices/{invoice_id}",
        api.put(
            store_url(merchant, f"invoices/{iid}"), {"metadata": {"a": 1}}, format="json"
        ).json(),
    )
    contract.check(
        "post",
        s + "invoices/{invoice_id}/unarchive",
        api.post(store_url(merchant, f"invoices/{iid}/unarchive")).json(),
    )
    hook = api.post(
        store_url(merchant, "webhooks"), {"url": "http://127.0.0.1:9/h"}, format="json"
    ).json()
    contract.check("post", s + "webhooks", hook)
    contract.check("get", s + "webhooks", api.get(store_url(merchant, "webhooks")).json())
    wid = hook["id"]
    contract.check(
        "get", s + "webhooks/{webhook_id}", api.get(store_url(merchant, f"webhooks/{wid}")).json()
    )
    contract.check(
        "put",
        s + "webhooks/{webhook_id}",
        api.put(
            store_url(merchant, f"webhooks/{wid}"), {"url": "http://127.0.0.1:9/h2"}, format="json"
        ).json(),
    )
    api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    deliveries = api.get(store_url(merchant, f"webhooks/{wid}/deliveries")).json()
    contract.check("get", s + "webhooks/{webhook_id}/deliveries", deliveries)
    did = deliveries[0]["id"]
    contract.check(
        "get",
        s + "webhooks/{webhook_id}/deliveries/{delivery_id}",
        api.get(store_url(merchant, f"webhooks/{wid}/deliveries/{did}")).json(),
    )
    contract.check(
        "get",
        s + "webhooks/{webhook_id}/deliveries/{delivery_id}/request",
        api.get(store_url(merchant, f"webhooks/{wid}/deliveries/{did}/request")).json(),
    )
    contract.check(
        "post",
        s + "webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        api.post(store_url(merchant, f"webhooks/{wid}/deliveries/{did}/redeliver")).json(),
    )
    contract.check("get", s + "balance", api.get(store_url(merchant, "balance")).json())
    contract.check("get", s + "transactions", api.get(store_url(merchant, "transactions")).json())
    fund(merchant.btc_account, 2_000_000)
    payout = api.post(
        store_url(merchant, "payouts"),
        {"amount": "0.00200000", "destination": ADDRESS},
        format="json",
    )
    assert payout.status_code == 200, payout.content
    contract.check("post", s + "payouts", payout.json())
    with pytest.raises(ValidationError):
        contract.check("post", s + "payouts", {**payout.json(), "amount": 0.002})
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    conversion = api.post(
        store_url(merchant, "conversions"), {"amount": "0.01000000"}, format="json"
    )
    assert conversion.status_code == 200, conversion.content
    contract.check("post", s + "conversions", conversion.json())
    contract.check("get", s + "payouts", api.get(store_url(merchant, "payouts")).json())
    contract.check("get", "/api/v1/stores/{store_id}", api.get(store_url(merchant)[:-1]).json())
    contract.check("get", "/api/v1/stores", api.get("/api/v1/stores").json())
    contract.check("get", "/api/v1/api-keys/current", api.get("/api/v1/api-keys/current").json())
    with_json = {
        (m, p) for p, m, op in _merchant_operations(spec) if "content" in op["responses"]["200"]
    }
    missing = with_json - contract.checked
    assert not missing, missing
