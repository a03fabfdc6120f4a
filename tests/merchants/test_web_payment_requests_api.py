"""Greenfield payment-requests API, checked against BTCPay's own schemas."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

from merchants.models import Invoice, Merchant
from tests.conftest import rate_feed
from tests.merchants.conftest import Greenfield, _drop_closed, _nullable, problems, store_url
from tests.merchants.test_schema import Contract

pytestmark = pytest.mark.django_db

REFERENCE = Path(__file__).parent / "reference" / "greenfield-payment-requests.openapi.json"


class PaymentRequestSchemas(Greenfield):
    def __init__(self) -> None:
        self.raw = json.loads(REFERENCE.read_text())
        doc = _drop_closed(_nullable(copy.deepcopy(self.raw)))
        self.registry = Registry().with_resource("urn:greenfield", DRAFT202012.create_resource(doc))


@pytest.fixture(scope="module")
def schemas() -> PaymentRequestSchemas:
    return PaymentRequestSchemas()


def test_create_list_get_pay_archive(
    api: APIClient, merchant: Merchant, schemas: PaymentRequestSchemas, greenfield: Greenfield
) -> None:
    expiry = int(time.time()) + 3600
    body = {
        "amount": "0.00040000",
        "currency": "BTC",
        "title": "Deposit for the hall",
        "description": "Saturday 18:00",
        "expiryDate": expiry,
        "referenceId": "HALL-9",
    }
    created = api.post(store_url(merchant, "payment-requests"), body, format="json")
    assert created.status_code == 200, created.content
    data = created.json()
    schemas.validate(data, "PaymentRequestData")
    assert (data["status"], data["amount"], data["expiryDate"]) == ("Pending", "0.00040000", expiry)
    listed = api.get(store_url(merchant, "payment-requests")).json()
    schemas.validate(listed, "PaymentRequestDataList")
    assert [r["id"] for r in listed] == [data["id"]]
    one = api.get(f"/api/v1/payment-requests/{data['id']}").json()
    assert one == data

    paid = api.post(f"/api/v1/payment-requests/{data['id']}/pay", {}, format="json")
    assert paid.status_code == 200, paid.content
    invoice = paid.json()
    greenfield.validate(invoice, "InvoiceData")
    assert invoice["amount"] == "0.00040000" and invoice["metadata"]["orderId"] == "HALL-9"
    again = api.post(
        f"/api/v1/payment-requests/{data['id']}/pay",
        {"allowPendingInvoiceReuse": True},
        format="json",
    ).json()
    assert again["id"] == invoice["id"]
    assert Invoice.objects.count() == 1

    assert api.delete(f"/api/v1/payment-requests/{data['id']}").status_code == 200
    closed = api.post(f"/api/v1/payment-requests/{data['id']}/pay", {}, format="json")
    assert closed.status_code == 409 and closed.json()["code"] == "payment-request-closed"
    assert api.get(store_url(merchant, "payment-requests")).json() == []


def test_bad_input_and_other_stores(
    api: APIClient,
    merchant: Merchant,
    make_merchant: Callable[..., Merchant],
    make_client: Callable[..., APIClient],
) -> None:
    url = store_url(merchant, "payment-requests")
    for bad in (
        {"title": "x", "amount": "1e5"},
        {"title": "x", "amount": "-1", "currency": "KZT"},
        {"title": "", "amount": "10"},
        {"title": "x", "amount": "10", "currency": "EUR"},
        {"title": "x", "amount": "10", "expiryDate": 1},
        {"title": "x", "amount": True},
    ):
        response = api.post(url, bad, format="json")
        assert problems(response), bad  # Greenfield's 422: a list of {path, message}
    pr = api.post(url, {"title": "x", "amount": "10.00", "currency": "KZT"}, format="json").json()
    other = make_client(make_merchant("Other shop"))
    assert other.get(f"/api/v1/payment-requests/{pr['id']}").status_code == 404
    viewer = make_client(merchant, scopes=["btcpay.store.canviewinvoices"])
    assert viewer.get(url).status_code == 403
    custom = api.post(f"/api/v1/payment-requests/{pr['id']}/pay", {"amount": "5"}, format="json")
    assert "amount" in problems(custom)


def test_schema_lists_the_endpoints(api: APIClient) -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    paths: dict[str, Any] = schema["paths"]
    ops = {op["operationId"] for p in paths.values() for op in p.values() if isinstance(op, dict)}
    assert {
        "PaymentRequests_GetPaymentRequests",
        "PaymentRequests_CreatePaymentRequest",
        "PaymentRequests_GetPaymentRequest",
        "PaymentRequests_UpdatePaymentRequest",
        "PaymentRequests_ArchivePaymentRequest",
        "PaymentRequests_Pay",
    } <= ops


def test_responses_match_the_published_schema(api: APIClient, merchant: Merchant) -> None:
    spec = APIClient().get("/api/schema/?format=json").json()
    contract = Contract(spec)
    s = "/api/v1/stores/{storeId}/payment-requests"
    body = {"amount": "15000.00", "currency": "KZT", "title": "Hall"}
    created = api.post(store_url(merchant, "payment-requests"), body, format="json").json()
    contract.check("post", s, created)
    contract.check("get", s, api.get(store_url(merchant, "payment-requests")).json())
    one = store_url(merchant, f"payment-requests/{created['id']}")
    contract.check("get", s + "/{paymentRequestId}", api.get(one).json())
    updated = api.put(one, {**body, "title": "Hall, Saturday"}, format="json")
    assert updated.json()["title"] == "Hall, Saturday"
    contract.check("put", s + "/{paymentRequestId}", updated.json())
    rate_feed(45_000_000_00, 100)
    paid = api.post(one + "/pay", {}, format="json")
    assert paid.status_code == 200, paid.content
    contract.check("post", s + "/{paymentRequestId}/pay", paid.json())
    # Paid in part or in full, a request no longer changes.
    Invoice.objects.filter(pk=paid.json()["id"]).update(paid_sats=1, status="Processing")
    assert api.put(one, body, format="json").status_code == 409
    ops = {(m, p) for p, item in spec["paths"].items() if "payment-requests" in p for m in item}
    assert contract.checked == ops - {("delete", s + "/{paymentRequestId}")}
