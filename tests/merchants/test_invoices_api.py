"""Contract tests of the invoice endpoints against BTCPay's Greenfield schemas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from exchange.services import exchange_rate_set
from merchants.models import Invoice, Merchant
from merchants.services.invoices import invoice_expire_due
from merchants.services.keys import SCOPE_CREATE_INVOICE, SCOPE_VIEW_INVOICES
from tests.merchants.conftest import Greenfield, problems, store_url

pytestmark = pytest.mark.django_db

BODY = {
    "amount": "0.00150000",
    "currency": "BTC",
    "metadata": {"orderId": "A-1001", "itemDesc": "Tea", "posData": {"tip": 0.48}},
    "checkout": {
        "speedPolicy": "LowMediumSpeed",
        "expirationMinutes": 30,
        "redirectURL": "https://shop.example/done",
        "paymentTolerance": 1.5,
    },
}


def create(
    api: APIClient, merchant: Merchant, body: dict[str, Any] | None = None, **headers: Any
) -> Any:
    return api.post(
        store_url(merchant, "invoices"), BODY if body is None else body, format="json", **headers
    )


def test_create_returns_greenfield_invoice(
    api: APIClient, merchant: Merchant, greenfield: Greenfield
) -> None:
    before = int(timezone.now().timestamp())
    response = create(api, merchant)
    assert response.status_code == 200, response.content
    body = response.json()
    greenfield.validate(body, "InvoiceData")
    assert body["storeId"] == merchant.store_id
    assert body["amount"] == "0.00150000" and body["currency"] == "BTC"
    assert (body["status"], body["additionalStatus"]) == ("New", "None")
    assert body["metadata"] == BODY["metadata"]
    assert body["checkoutLink"] == f"http://testserver/i/{body['id']}"
    assert body["expirationTime"] - body["createdTime"] == 30 * 60
    assert before <= body["createdTime"] <= before + 5
    assert body["checkout"]["speedPolicy"] == "LowMediumSpeed"
    assert body["checkout"]["paymentTolerance"] == 1.5
    invoice = Invoice.objects.get(pk=body["id"])
    assert (invoice.amount_sats, invoice.required_confirmations, invoice.tolerance_bp) == (
        150_000,
        2,
        150,
    )
    assert invoice.order_id == "A-1001"


@pytest.mark.parametrize(
    ("speed", "confirmations"),
    [("HighSpeed", 0), ("MediumSpeed", 1), ("LowMediumSpeed", 2), ("LowSpeed", 6)],
)
def test_speed_policy_sets_confirmations(
    api: APIClient, merchant: Merchant, speed: str, confirmations: int
) -> None:
    response = create(api, merchant, {"amount": "0.001", "checkout": {"speedPolicy": speed}})
    assert Invoice.objects.get(pk=response.json()["id"]).required_confirmations == confirmations


def test_defaults(api: APIClient, merchant: Merchant) -> None:
    body = create(api, merchant, {"amount": "0.001"}).json()
    assert body["currency"] == "BTC"
    assert body["expirationTime"] - body["createdTime"] == 15 * 60
    assert body["checkout"]["speedPolicy"] == "MediumSpeed"
    assert body["metadata"] == {}


def test_kzt_invoice_carries_a_btc_quote(
    api: APIClient, merchant: Merchant, greenfield: Greenfield, settings: Any
) -> None:
    settings.EXCHANGE_RATE_JUMP_MAX_BP = 20_000  # the rate doubles below: a feed, no four eyes
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    body = create(api, merchant, {"amount": "25000.00", "currency": "KZT"}).json()
    assert body["amount"] == "25000.00" and body["currency"] == "KZT"
    invoice = Invoice.objects.get(pk=body["id"])
    # 25 000 KZT at 45 000 000 KZT/BTC = 0.00055556 BTC (rounded up to cover the price).
    assert invoice.amount_sats == 55_556
    exchange_rate_set(mid_tiyn_per_btc=90_000_000_00, spread_bp=100, actor=None)
    methods = api.get(store_url(merchant, f"invoices/{body['id']}/payment-methods")).json()
    greenfield.validate(methods[0], "InvoicePaymentMethodDataModel")
    assert methods[0]["rate"] == "45000000.00"  # fixed until expiry, whatever the new rate
    assert methods[0]["amount"] == "0.00055556"


def test_kzt_invoice_without_a_rate_is_503(api: APIClient, merchant: Merchant) -> None:
    response = create(api, merchant, {"amount": "100.00", "currency": "KZT"})
    assert response.status_code == 503
    assert response.json()["code"] == "quote-unavailable"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "0.000000001"}, "amount"),
        ({"amount": "21000001"}, "amount"),
        ({"amount": " 1"}, "amount"),
        ({"amount": "1\n"}, "amount"),
        ({"amount": "1 000"}, "amount"),
        ({"amount": "²"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": [1]}, "amount"),
        ({"amount": "1", "currency": ""}, "currency"),
        ({"amount": "1", "currency": "usd "}, "currency"),
        ({"amount": "1", "currency": " EUR"}, "currency"),
        ({"amount": "1", "currency": "GBP"}, "currency"),  # no pricing rate configured
        ({"amount": "1", "currency": "XYZ"}, "currency"),
        ({"amount": "0.1", "checkout": {"monitoringMinutes": -5}}, "checkout.monitoringMinutes"),
        ({"amount": "0.1", "checkout": {"paymentMethods": ["FOO"]}}, "checkout.paymentMethods[0]"),
        (
            {"amount": "0.1", "checkout": {"defaultPaymentMethod": "FOO"}},
            "checkout.defaultPaymentMethod",
        ),
        (
            {"amount": "0.1", "checkout": {"lazyPaymentMethods": True}},
            "checkout.lazyPaymentMethods",
        ),
        (
            {"amount": "0.1", "checkout": {"redirectAutomatically": True}},
            "checkout.redirectAutomatically",
        ),
        ({"amount": "0.1", "checkout": {"defaultLanguage": "xx-XX"}}, "checkout.defaultLanguage"),
        (
            {
                "amount": "0.1",
                "checkout": {"paymentMethods": ["BTC-CHAIN"], "defaultPaymentMethod": "BTC-ALATAU"},
            },
            "checkout.defaultPaymentMethod",
        ),
        ({"amount": "1", "currency": "USD"}, "currency"),
        ({"amount": "1.001", "currency": "KZT"}, "amount"),
        ({"amount": "0.1", "checkout": {"speedPolicy": "Warp"}}, "checkout.speedPolicy"),
        ({"amount": "0.1", "checkout": {"expirationMinutes": 0}}, "checkout.expirationMinutes"),
        ({"amount": "0.1", "checkout": {"paymentTolerance": 101}}, "checkout.paymentTolerance"),
        (
            {"amount": "0.1", "checkout": {"redirectURL": "javascript:alert(1)"}},
            "checkout.redirectURL",
        ),
        ({"amount": "0.1", "metadata": {"orderId": 5}}, "metadata.orderId"),
        ({"amount": "0.1", "metadata": "x"}, "metadata"),
    ],
)
def test_create_rejects_bad_input(
    api: APIClient, merchant: Merchant, body: dict[str, Any], field: str
) -> None:
    response = create(api, merchant, body)
    found = problems(response)  # Greenfield: 422 [{"path", "message"}]
    assert field in found, found
    assert all(isinstance(m, str) and m for m in found.values())
    assert not Invoice.objects.exists()


def test_get_list_and_filters(api: APIClient, merchant: Merchant, greenfield: Greenfield) -> None:
    ids = [
        create(api, merchant, {"amount": "0.001", "metadata": {"orderId": f"o{i}"}}).json()["id"]
        for i in range(3)
    ]
    one = api.get(store_url(merchant, f"invoices/{ids[0]}"))
    assert one.status_code == 200
    greenfield.validate(one.json(), "InvoiceData")
    top = api.get(f"/api/v1/invoices/{ids[0]}")  # Greenfield's top-level alias
    assert top.json() == one.json()
    listed = api.get(store_url(merchant, "invoices")).json()
    greenfield.validate(listed, "InvoiceDataList")
    for item in listed:
        greenfield.validate(item, "InvoiceData")
    assert [i["id"] for i in listed] == ids[::-1]
    by_order = api.get(store_url(merchant, "invoices") + "?orderId=o1&orderId=o2").json()
    assert sorted(i["metadata"]["orderId"] for i in by_order) == ["o1", "o2"]
    assert api.get(store_url(merchant, "invoices") + "?status=Settled").json() == []
    assert len(api.get(store_url(merchant, "invoices") + "?take=2").json()) == 2
    assert len(api.get(store_url(merchant, "invoices") + "?skip=2").json()) == 1
    assert api.get(store_url(merchant, "invoices") + "?textSearch=o0").json()[0]["id"] == ids[0]
    assert api.get(store_url(merchant, "invoices") + "?status=Bogus").status_code == 422


def test_payment_methods(api: APIClient, merchant: Merchant, greenfield: Greenfield) -> None:
    invoice_id = create(api, merchant).json()["id"]
    response = api.get(store_url(merchant, f"invoices/{invoice_id}/payment-methods"))
    assert response.status_code == 200
    methods = response.json()
    for method in methods:
        greenfield.validate(method, "InvoicePaymentMethodDataModel")
    chain, bank = methods
    assert chain["paymentMethodId"] == "BTC-CHAIN" and bank["paymentMethodId"] == "BTC-ALATAU"
    assert (chain["due"], chain["totalPaid"], chain["rate"]) == ("0.00150000", "0.00000000", "1")
    assert bank["destination"].endswith(f"/i/{invoice_id}")
    assert api.get(f"/api/v1/invoices/{invoice_id}/payment-methods").json() == methods


def test_mark_status_transitions(
    api: APIClient, merchant: Merchant, greenfield: Greenfield
) -> None:
    invoice_id = create(api, merchant).json()["id"]
    url = store_url(merchant, f"invoices/{invoice_id}/status")
    response = api.post(url, {"status": "Invalid"}, format="json")
    assert response.status_code == 200
    greenfield.validate(response.json(), "InvoiceData")
    assert (response.json()["status"], response.json()["additionalStatus"]) == ("Invalid", "Marked")
    assert response.json()["availableStatusesForManualMarking"] == ["Settled"]
    again = api.post(url, {"status": "Invalid"}, format="json")
    assert problems(again) == {  # BTCPay's answer, word for word
        "status": "Status can only be marked to invalid or settled within certain conditions."
    }
    settled = api.post(
        f"/api/v1/invoices/{invoice_id}/status", {"status": "Settled"}, format="json"
    ).json()
    assert (settled["status"], settled["additionalStatus"]) == ("Settled", "Marked")
    bad = api.post(url, {"status": "New"}, format="json")
    assert "status" in problems(bad)


def test_archive_and_unarchive(api: APIClient, merchant: Merchant) -> None:
    invoice_id = create(api, merchant).json()["id"]
    assert api.delete(store_url(merchant, f"invoices/{invoice_id}")).status_code == 200
    assert api.get(store_url(merchant, "invoices")).json() == []
    assert api.get(store_url(merchant, "invoices") + "?includeArchived=true").json()[0]["archived"]
    assert api.get(store_url(merchant, f"invoices/{invoice_id}")).json()["archived"] is True
    body = api.post(store_url(merchant, f"invoices/{invoice_id}/unarchive")).json()
    assert body["archived"] is False
    assert len(api.get(store_url(merchant, "invoices")).json()) == 1


def test_expiry(api: APIClient, merchant: Merchant) -> None:
    invoice_id = create(api, merchant).json()["id"]
    assert invoice_expire_due(now=timezone.now() + timedelta(minutes=29)) == 0
    assert invoice_expire_due(now=timezone.now() + timedelta(minutes=31)) == 1
    body = api.get(store_url(merchant, f"invoices/{invoice_id}")).json()
    assert (body["status"], body["additionalStatus"]) == ("Expired", "None")
    assert invoice_expire_due(now=timezone.now() + timedelta(minutes=60)) == 0


def test_other_merchants_objects_are_404(
    api: APIClient,
    merchant: Merchant,
    make_merchant: Callable[..., Merchant],
    make_client: Callable[..., APIClient],
) -> None:
    invoice_id = create(api, merchant).json()["id"]
    other = make_merchant("Rival")
    rival = make_client(other)
    for response in (
        rival.get(store_url(other, f"invoices/{invoice_id}")),
        rival.get(f"/api/v1/invoices/{invoice_id}"),
        rival.get(store_url(other, f"invoices/{invoice_id}/payment-methods")),
        rival.post(
            store_url(other, f"invoices/{invoice_id}/status"), {"status": "Invalid"}, format="json"
        ),
        rival.delete(store_url(other, f"invoices/{invoice_id}")),
        rival.get(store_url(merchant, "invoices")),  # the other store itself
        rival.post(store_url(merchant, "invoices"), BODY, format="json"),
        rival.get(store_url(merchant, f"invoices/{invoice_id}")),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["code"] in ("invoice-not-found", "store-not-found")
    assert rival.get(store_url(other, "invoices")).json() == []


def test_auth_and_scopes(merchant: Merchant, make_client: Callable[..., APIClient]) -> None:
    url = store_url(merchant, "invoices")
    anonymous = APIClient()
    response = anonymous.get(url)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "token"
    assert response.json()["code"] == "unauthenticated"
    assert set(response.json()) == {"code", "message"}
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="token " + "0" * 40)
    assert wrong.get(url).status_code == 401
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION="Bearer abc")
    assert bearer.get(url).status_code == 401
    viewer = make_client(merchant, [SCOPE_VIEW_INVOICES])
    assert viewer.get(url).status_code == 200
    denied = viewer.post(url, BODY, format="json")
    assert denied.status_code == 403
    assert denied.json()["code"] == "missing-permission"
    assert denied.json()["missingPermission"] == "btcpay.store.cancreateinvoice"
    creator = make_client(merchant, [SCOPE_CREATE_INVOICE])
    assert creator.post(url, BODY, format="json").status_code == 200
    assert creator.get(url).status_code == 403


def test_revoked_key_and_suspended_merchant(
    merchant: Merchant, make_client: Callable[..., APIClient]
) -> None:
    from merchants.models import ApiKey
    from merchants.services.keys import api_key_revoke
    from merchants.services.merchants import merchant_set_status

    client = make_client(merchant)
    url = store_url(merchant, "invoices")
    assert client.get(url).status_code == 200
    key = ApiKey.objects.get(merchant=merchant)
    assert key.last_used_at is not None
    api_key_revoke(merchant=merchant, key_id=key.pk, actor=merchant.owner)
    assert client.get(url).status_code == 401
    client2 = make_client(merchant)
    merchant_set_status(merchant_id=merchant.pk, status="suspended", actor=None, reason="test")
    assert client2.get(url).status_code == 401


def test_query_count_of_create_and_read(
    api: APIClient, merchant: Merchant, django_assert_max_num_queries: Any
) -> None:
    invoice_id = create(api, merchant).json()["id"]
    with django_assert_max_num_queries(4):
        assert api.get(store_url(merchant, f"invoices/{invoice_id}")).status_code == 200
    with django_assert_max_num_queries(12):
        assert create(api, merchant).status_code == 200


def test_update_metadata(api: APIClient, merchant: Merchant, greenfield: Greenfield) -> None:
    invoice_id = create(api, merchant).json()["id"]
    greenfield.validate({"metadata": {"orderId": "B-2"}}, "UpdateInvoiceRequest")
    response = api.put(
        f"/api/v1/invoices/{invoice_id}", {"metadata": {"orderId": "B-2"}}, format="json"
    )
    assert response.status_code == 200
    greenfield.validate(response.json(), "InvoiceData")
    assert response.json()["metadata"] == {"orderId": "B-2"}
    assert api.get(store_url(merchant, "invoices") + "?orderId=B-2").json()[0]["id"] == invoice_id
    bad = api.put(
        store_url(merchant, f"invoices/{invoice_id}"), {"metadata": {"orderId": 1}}, format="json"
    )
    assert bad.status_code == 422
