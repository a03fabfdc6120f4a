"""The generated OpenAPI schema: valid, documented with examples, and true to the responses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
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
from merchants.models import PayoutState, PullPaymentPayout
from merchants.services.payments import invoice_pay_in_bank
from tests.compliance.conftest import regtest_address
from tests.conftest import fund
from tests.merchants.conftest import allow_list, owner_verified, store_url
from tests.merchants.test_funds import ADDRESS, OTHER_ADDRESS

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
    assert len(operations) >= 26
    for path, method, op in operations:
        assert op.get("operationId") and op.get("summary"), (path, method)
        if path == "/api/v1/health":  # open to all, as in BTCPay
            continue
        assert {"401", "403", "404", "422", "429"} <= set(op["responses"]), (path, method)
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
    s = "/api/v1/stores/{storeId}/"
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
        "get", s + "invoices/{invoiceId}", api.get(store_url(merchant, f"invoices/{iid}")).json()
    )
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    invoice_pay_in_bank(invoice_id=iid, payer=customer, account_id=wallet.pk)
    _check_invoice_actions(contract, api, merchant, iid, s)
    _check_webhooks(contract, api, merchant, s)
    contract.check("get", s + "balance", api.get(store_url(merchant, "balance")).json())
    contract.check("get", s + "transactions", api.get(store_url(merchant, "transactions")).json())
    contract.check("get", s + "payouts", api.get(store_url(merchant, "payouts")).json())
    contract.check("get", "/api/v1/stores/{storeId}", api.get(store_url(merchant)[:-1]).json())
    contract.check("get", "/api/v1/stores", api.get("/api/v1/stores").json())
    contract.check("get", "/api/v1/server/info", api.get("/api/v1/server/info").json())
    contract.check("get", "/api/v1/health", api.get("/api/v1/health").json())
    contract.check(
        "get", s + "payment-methods", api.get(store_url(merchant, "payment-methods")).json()
    )
    contract.check(
        "get",
        s + "payment-methods/{paymentMethodId}",
        api.get(store_url(merchant, "payment-methods/BTC-CHAIN")).json(),
    )
    contract.check("get", "/api/v1/api-keys/current", api.get("/api/v1/api-keys/current").json())
    _check_pull_payments(contract, api, merchant, iid, s)
    with_json = {
        (m, p) for p, m, op in _merchant_operations(spec) if "content" in op["responses"]["200"]
    }
    _check_payout_and_conversion(contract, api, merchant, s)
    missing = with_json - contract.checked
    # Payment requests are checked in test_web_payment_requests_api with this same Contract.
    missing = {(m, p) for m, p in missing if "/payment-requests" not in p}
    assert not missing, missing


def _check_payout_and_conversion(contract: Contract, api: APIClient, merchant: Any, s: str) -> None:
    """The two money-moving POSTs, a payout and a conversion, against the published schema."""
    fund(merchant.btc_account, 2_000_000)
    allow_list(merchant, OTHER_ADDRESS)  # ADDRESS is claimed later in this test
    owner_verified(merchant)
    payout = api.post(
        store_url(merchant, "payouts"),
        {"amount": "0.00100000", "destination": OTHER_ADDRESS, "approved": True},
        format="json",
    )
    assert payout.status_code == 200, payout.content
    contract.check("post", s + "payouts", payout.json())
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    conversion = api.post(
        store_url(merchant, "conversions"), {"amount": "0.01000000"}, format="json"
    )
    assert conversion.status_code == 200, conversion.content
    contract.check("post", s + "conversions", conversion.json())


def _check_invoice_actions(
    contract: Contract, api: APIClient, merchant: Any, iid: str, s: str
) -> None:
    """Payment methods, refund, mark, update and unarchive of a paid invoice."""
    contract.check(
        "get",
        s + "invoices/{invoiceId}/payment-methods",
        api.get(store_url(merchant, f"invoices/{iid}/payment-methods")).json(),
    )
    contract.check(
        "post",
        s + "invoices/{invoiceId}/refunds",
        api.post(
            store_url(merchant, f"invoices/{iid}/refunds"),
            {"method": "InBank", "amount": "0.0001"},
            format="json",
        ).json(),
    )
    contract.check(
        "post",
        s + "invoices/{invoiceId}/status",
        api.post(
            store_url(merchant, f"invoices/{iid}/status"), {"status": "Invalid"}, format="json"
        ).json(),
    )
    contract.check(
        "put",
        s + "invoices/{invoiceId}",
        api.put(
            store_url(merchant, f"invoices/{iid}"), {"metadata": {"a": 1}}, format="json"
        ).json(),
    )
    api.delete(store_url(merchant, f"invoices/{iid}"))
    contract.check(
        "post",
        s + "invoices/{invoiceId}/unarchive",
        api.post(store_url(merchant, f"invoices/{iid}/unarchive")).json(),
    )


def _check_webhooks(contract: Contract, api: APIClient, merchant: Any, s: str) -> None:
    hook = api.post(
        store_url(merchant, "webhooks"), {"url": "http://127.0.0.1:9/h"}, format="json"
    ).json()
    contract.check("post", s + "webhooks", hook)
    contract.check("get", s + "webhooks", api.get(store_url(merchant, "webhooks")).json())
    wid = hook["id"]
    contract.check(
        "get", s + "webhooks/{webhookId}", api.get(store_url(merchant, f"webhooks/{wid}")).json()
    )
    contract.check(
        "put",
        s + "webhooks/{webhookId}",
        api.put(
            store_url(merchant, f"webhooks/{wid}"), {"url": "http://127.0.0.1:9/h2"}, format="json"
        ).json(),
    )
    api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    deliveries = api.get(store_url(merchant, f"webhooks/{wid}/deliveries")).json()
    contract.check("get", s + "webhooks/{webhookId}/deliveries", deliveries)
    did = deliveries[0]["id"]
    contract.check(
        "get",
        s + "webhooks/{webhookId}/deliveries/{deliveryId}",
        api.get(store_url(merchant, f"webhooks/{wid}/deliveries/{did}")).json(),
    )
    contract.check(
        "get",
        s + "webhooks/{webhookId}/deliveries/{deliveryId}/request",
        api.get(store_url(merchant, f"webhooks/{wid}/deliveries/{did}/request")).json(),
    )
    contract.check(
        "post",
        s + "webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
        api.post(store_url(merchant, f"webhooks/{wid}/deliveries/{did}/redeliver")).json(),
    )


def _check_pull_payments(
    contract: Contract, api: APIClient, merchant: Any, iid: str, s: str
) -> None:
    allow_list(merchant, ADDRESS)
    owner_verified(merchant)
    pull = api.post(
        store_url(merchant, f"invoices/{iid}/refund"),
        {"refundVariant": "Custom", "customAmount": "0.0003", "customCurrency": "BTC"},
        format="json",
    ).json()
    contract.check("post", s + "invoices/{invoiceId}/refund", pull)
    contract.check("get", s + "pull-payments", api.get(store_url(merchant, "pull-payments")).json())
    p = "/api/v1/pull-payments/{pullPaymentId}"
    contract.check("get", p, APIClient().get(f"/api/v1/pull-payments/{pull['id']}").json())
    claims = []
    for n in range(3):
        claim = APIClient().post(  # three destinations: one active payout per destination
            f"/api/v1/pull-payments/{pull['id']}/payouts",
            {"destination": ADDRESS if n == 0 else regtest_address(n), "amount": "0.0001"},
            format="json",
        )
        contract.check("post", p + "/payouts", claim.json())
        claims.append(claim.json()["id"])
    contract.check(
        "get", p + "/payouts", APIClient().get(f"/api/v1/pull-payments/{pull['id']}/payouts").json()
    )
    contract.check(
        "get",
        p + "/payouts/{payoutId}",
        APIClient().get(f"/api/v1/pull-payments/{pull['id']}/payouts/{claims[0]}").json(),
    )
    contract.check(
        "get", "/api/v1/payouts/{payoutId}", api.get(f"/api/v1/payouts/{claims[0]}").json()
    )
    approved = api.post(f"/api/v1/payouts/{claims[0]}", {"revision": 0}, format="json")
    assert approved.status_code == 200, approved.content
    contract.check("post", "/api/v1/payouts/{payoutId}", approved.json())
    marked = api.post(
        f"/api/v1/payouts/{claims[0]}/mark", {"state": "AwaitingPayment"}, format="json"
    )
    contract.check("post", "/api/v1/payouts/{payoutId}/mark", marked.json())
    not_approved = api.post(f"/api/v1/payouts/{claims[1]}/mark-paid")
    assert not_approved.json()["code"] == "invalid-state"  # 400: BTCPay marks approved ones
    # A payout Completed without a withdrawal (marked paid before Alatau followed BTCPay):
    # marking it paid again is the one 200 of mark-paid that needs no confirmed withdrawal.
    done = PullPaymentPayout.objects.create(
        id="legacyCompleted0000001", merchant=merchant, destination=ADDRESS,
        amount_sats=1000, state=PayoutState.COMPLETED,
    )  # fmt: skip
    paid = api.post(f"/api/v1/payouts/{done.id}/mark-paid")
    assert paid.status_code == 200, paid.content
    contract.check("post", "/api/v1/payouts/{payoutId}/mark-paid", paid.json())
    contract.check(
        "delete", "/api/v1/payouts/{payoutId}", api.delete(f"/api/v1/payouts/{claims[2]}").json()
    )
    _check_store_payouts(contract, api, merchant, s)


def _check_store_payouts(contract: Contract, api: APIClient, merchant: Any, s: str) -> None:
    fund(merchant.btc_account, 500_000)
    allow_list(merchant, regtest_address(5))  # ADDRESS has an active payout already
    own = api.post(
        store_url(merchant, "payouts"),
        {"destination": regtest_address(5), "amount": "0.0001", "approved": True},
        format="json",
    )
    assert own.status_code == 200, own.content
    contract.check("post", s + "payouts", own.json())
    contract.check("get", s + "payouts", api.get(store_url(merchant, "payouts")).json())
    general = api.post(
        store_url(merchant, "pull-payments"),
        {"name": "Prize", "amount": "0.0002", "currency": "BTC"},
        format="json",
    )
    contract.check("post", s + "pull-payments", general.json())
    archived = api.delete(f"/api/v1/pull-payments/{general.json()['id']}")
    contract.check("delete", "/api/v1/pull-payments/{pullPaymentId}", archived.json())


def _normal(path: str) -> str:
    """A path without the store prefix of per-object routes (BTCPay serves both forms)."""
    path = re.sub(r"^/api/v1/stores/\{storeId\}/(invoices|webhooks)/\{", r"/api/v1/\1/{", path)
    return path


def test_operation_ids_and_path_names_are_btcpays(spec: dict[str, Any]) -> None:
    btcpay: dict[tuple[str, str], str] = {}
    for file in sorted((Path(__file__).parent / "reference" / "swagger").glob("*.json")):
        for path, item in json.loads(file.read_text()).get("paths", {}).items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    btcpay[(method, _normal(path))] = op["operationId"]
    reference = json.loads(
        (
            Path(__file__).parent / "reference" / "greenfield-invoices-webhooks.openapi.json"
        ).read_text()
    )
    for path, item in reference["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                btcpay[(method, _normal(path))] = op["operationId"]
    ours = {
        (method, _normal(path)): op["operationId"]
        for path, method, op in _merchant_operations(spec)
    }
    shared = set(ours) & set(btcpay)
    assert len(shared) >= 35, sorted(shared)
    assert [(k, ours[k], btcpay[k]) for k in sorted(shared) if ours[k] != btcpay[k]] == []
    assert {key: ours[key] for key in shared} == {key: btcpay[key] for key in shared}
    by_id = {op_id: key for key, op_id in btcpay.items()}
    for key, op_id in ours.items():  # an operation named as BTCPay's sits at BTCPay's path
        if op_id in by_id:
            assert by_id[op_id] == key, (op_id, key)
    for path in spec["paths"]:
        assert "_id}" not in path, path  # {storeId}, {invoiceId}, ..., never {store_id}


def test_every_example_is_valid_for_its_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for path, method, op in _merchant_operations(spec):
        bodies = [
            (response.get("content", {}).get("application/json"), f"{status} of {method} {path}")
            for status, response in op["responses"].items()
        ]
        request = op.get("requestBody", {}).get("content", {}).get("application/json")
        bodies.append((request, f"request of {method} {path}"))
        for media, where in bodies:
            if not media or "schema" not in media:
                continue
            validator = OAS30Validator({**media["schema"], "components": spec["components"]})
            for name, example in media.get("examples", {}).items():
                errors = list(validator.iter_errors(example["value"]))
                assert not errors, (where, name, errors[0].message)
                checked += 1
    assert checked >= 45
