"""BTCPay's answers, asserted: routes with a trailing slash, JSON 404s, error shapes and codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import Resolver404, resolve
from rest_framework.test import APIClient

from merchants.api_urls import ROUTES
from merchants.models import Merchant
from merchants.services.keys import SCOPE_VIEW_INVOICES, SCOPE_WEBHOOKS
from tests.merchants.conftest import problems, store_url

pytestmark = pytest.mark.django_db

BODY = {"amount": "0.00100000", "metadata": {"orderId": "gf-1"}}


def _invoice(api: APIClient, merchant: Merchant) -> str:
    response = api.post(store_url(merchant, "invoices"), BODY, format="json")
    assert response.status_code == 200, response.content
    return str(response.json()["id"])


def test_every_route_answers_with_a_trailing_slash_too() -> None:
    for rule, _view, _name in ROUTES:
        sample = "/api/v1/" + rule.replace("<pid:", "").replace(">", "")
        for path in (sample, sample + "/"):
            try:
                match = resolve(path)
            except Resolver404:  # pragma: no cover - the assertion below names the route
                match = None
            assert match is not None and match.func.__name__ != "api_not_found", path


def test_trailing_slash_calls(api: APIClient, merchant: Merchant) -> None:
    created = api.post(store_url(merchant, "invoices") + "/", BODY, format="json")
    assert created.status_code == 200
    invoice_id = created.json()["id"]
    assert api.get(store_url(merchant, "invoices/")).json()[0]["id"] == invoice_id
    assert api.get(f"/api/v1/invoices/{invoice_id}/").json()["id"] == invoice_id
    assert (
        api.get(store_url(merchant, f"invoices/{invoice_id}/payment-methods/")).status_code == 200
    )
    marked = api.post(
        f"/api/v1/invoices/{invoice_id}/status/", {"status": "Invalid"}, format="json"
    )
    assert marked.json()["status"] == "Invalid"
    assert api.get("/api/v1/api-keys/current/").status_code == 200
    assert api.get(f"/api/v1/stores/{merchant.store_id}/").json()["id"] == merchant.store_id


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here",
        "/api/v1/stores/abc/nothing",
        "/api/v1/invoices/abc/def/ghi",
        "/api/v1/",
        "/api/v1/invoices/%00",
        "/api/v1/invoices/%ED%A0%80",
        "/api/v1/stores/%00/invoices",
        "/api/v1/invoices/abc/payment-methods/%0A%09/activate",
        "/api/v1/%0A",
    ],
)
def test_unknown_api_paths_answer_json_404(api: APIClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not-found"


@pytest.mark.parametrize("path", ["/i/%00", "/i/%ED%A0%80", "/i/%00/status", "/i/%F0%9F%98%80"])
def test_anonymous_checkout_with_odd_ids_is_404_not_500(path: str) -> None:
    assert Client().get(path).status_code == 404
    assert Client().post(path + "/pay").status_code in (403, 404)


def test_unauthenticated_and_missing_permission(
    merchant: Merchant, make_client: Callable[..., APIClient]
) -> None:
    url = store_url(merchant, "invoices")
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="token " + "f" * 40)
    assert wrong.get(url).json()["code"] == "unauthenticated"
    viewer = make_client(merchant, [SCOPE_VIEW_INVOICES])
    denied = viewer.post(url, BODY, format="json")
    assert denied.status_code == 403
    assert denied.json() == {
        "code": "missing-permission",
        "message": denied.json()["message"],
        "missingPermission": "btcpay.store.cancreateinvoice",
    }
    hooks = viewer.get(store_url(merchant, "webhooks"))
    assert hooks.json()["missingPermission"] == SCOPE_WEBHOOKS


def test_not_found_codes_are_btcpays(api: APIClient, merchant: Merchant) -> None:
    assert api.get("/api/v1/invoices/nope").json()["code"] == "invoice-not-found"
    assert api.get(store_url(merchant, "invoices/nope")).json()["code"] == "invoice-not-found"
    assert api.get("/api/v1/webhooks/nope").json()["code"] == "webhook-not-found"
    assert api.get("/api/v1/stores/nope").json()["code"] == "store-not-found"
    hook = api.post(store_url(merchant, "webhooks"), {"url": "https://x.example/h"}, format="json")
    missing = api.get(f"/api/v1/webhooks/{hook.json()['id']}/deliveries/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "webhookdelivery-not-found"
    for response in (api.get("/api/v1/invoices/nope"), api.get("/api/v1/webhooks/nope")):
        assert set(response.json()) == {"code", "message"}


def test_unarchive_of_a_live_invoice_is_btcpays_400(api: APIClient, merchant: Merchant) -> None:
    invoice_id = _invoice(api, merchant)
    response = api.post(f"/api/v1/invoices/{invoice_id}/unarchive")
    assert response.status_code == 400
    assert response.json() == {
        "code": "already-unarchived",
        "message": "Invoice is already unarchived",  # BTCPay's words
    }
    assert api.delete(f"/api/v1/invoices/{invoice_id}").status_code == 200
    assert (
        api.delete(f"/api/v1/invoices/{invoice_id}").status_code == 200
    )  # archiving twice is fine
    assert api.post(f"/api/v1/invoices/{invoice_id}/unarchive").json()["archived"] is False


def test_mark_status_from_a_state_that_forbids_it(api: APIClient, merchant: Merchant) -> None:
    invoice_id = _invoice(api, merchant)
    url = f"/api/v1/invoices/{invoice_id}/status"
    assert api.post(url, {"status": "Settled"}, format="json").status_code == 200
    again = api.post(url, {"status": "Settled"}, format="json")
    assert again.status_code == 422
    assert again.json()[0]["path"] == "status"
    assert again.json()[0]["message"] == (
        "Status can only be marked to invalid or settled within certain conditions."
    )


def test_validation_is_a_list_of_path_and_message(api: APIClient, merchant: Merchant) -> None:
    response = api.post(
        store_url(merchant, "invoices"),
        {"amount": "-1", "checkout": {"speedPolicy": "Warp", "paymentMethods": ["FOO"]}},
        format="json",
    )
    found = problems(response)
    assert set(found) >= {"checkout.speedPolicy", "checkout.paymentMethods[0]"}
    assert found["checkout.paymentMethods[0]"] == "Invalid PaymentMethodId"
    amount = problems(api.post(store_url(merchant, "invoices"), {"amount": "-1"}, format="json"))
    assert "amount" in amount


def test_method_not_allowed_is_json(api: APIClient, merchant: Merchant) -> None:
    response = api.patch(store_url(merchant, "invoices"), {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method-not-allowed"


def test_put_with_null_metadata_clears_it(api: APIClient, merchant: Merchant) -> None:
    invoice_id = _invoice(api, merchant)
    response = api.put(f"/api/v1/invoices/{invoice_id}", {"metadata": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == {}
    listed = api.get(store_url(merchant, "invoices") + "?orderId=gf-1").json()
    assert listed == []  # the order id went with the metadata


def test_error_codes_are_kebab_case_everywhere(api: APIClient, merchant: Merchant) -> None:
    responses: list[Any] = [
        api.get("/api/v1/invoices/nope"),
        api.post(store_url(merchant, "invoices"), "{", content_type="application/json"),
        APIClient().get(store_url(merchant, "invoices")),
    ]
    for response in responses:
        body = response.json()
        items = body if isinstance(body, list) else [body]
        for item in items:
            code = item.get("code", "")
            assert code and "_" not in code and code == code.lower(), body


def test_specific_events_accept_every_btcpay_event_name(api: APIClient, merchant: Merchant) -> None:
    from merchants.models import GREENFIELD_EVENTS

    events = list(GREENFIELD_EVENTS)
    assert {"PayoutCreated", "PayoutApproved", "PayoutUpdated", "PaymentRequestCreated"} <= set(
        events
    )
    response = api.post(
        store_url(merchant, "webhooks"),
        {
            "url": "https://x.example/h",
            "authorizedEvents": {"everything": False, "specificEvents": events},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["authorizedEvents"]["specificEvents"] == sorted(events)
    bad = api.post(
        store_url(merchant, "webhooks"),
        {
            "url": "https://x.example/h",
            "authorizedEvents": {"everything": False, "specificEvents": ["Nope"]},
        },
        format="json",
    )
    assert "authorizedEvents.specificEvents[0]" in problems(bad)


def test_delivery_status_is_btcpays_enum(
    api: APIClient, merchant: Merchant, greenfield: Any
) -> None:
    api.post(store_url(merchant, "webhooks"), {"url": "https://x.example/h"}, format="json")
    hook = api.get(store_url(merchant, "webhooks")).json()[0]
    _invoice(api, merchant)  # InvoiceCreated: a delivery queued, not sent (on commit only)
    delivery = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()[0]
    assert delivery["status"] == "Failed" and delivery["alatauStatus"] == "Pending"
    assert delivery["errorMessage"] == "Queued for delivery."
    assert delivery["status"] in {"Failed", "HttpError", "HttpSuccess"}
    greenfield.validate(delivery, "WebhookDeliveryData")


@pytest.fixture
def no_node(settings: Any) -> None:
    settings.BITCOIND_RPC_URL = "http://127.0.0.1:9"  # the discard port: refused at once


def test_shared_endpoints_match_btcpays_own_schemas(
    api: APIClient, merchant: Merchant, greenfield: Any, no_node: None
) -> None:
    info = api.get("/api/v1/server/info")
    assert info.status_code == 200
    greenfield.validate(info.json(), "ApplicationServerInfoData")
    assert set(info.json()["supportedPaymentMethods"]) == {"BTC-CHAIN", "BTC-ALATAU"}
    health = APIClient().get("/api/v1/health")  # no key needed, as in BTCPay
    assert health.status_code == 200
    greenfield.validate(health.json(), "ApplicationHealthData")
    methods = api.get(store_url(merchant, "payment-methods")).json()
    for method in methods:
        greenfield.validate(method, "GenericPaymentMethodData")
    assert {m["paymentMethodId"] for m in methods} == {"BTC-CHAIN", "BTC-ALATAU"}
    one = api.get(store_url(merchant, "payment-methods/BTC-ALATAU")).json()
    greenfield.validate(one, "GenericPaymentMethodData")
    assert api.get(store_url(merchant, "payment-methods/BTC-LN")).status_code == 404
    greenfield.validate(api.get(f"/api/v1/stores/{merchant.store_id}").json(), "StoreData")
    for store in api.get("/api/v1/stores").json():
        greenfield.validate(store, "StoreData")
    greenfield.validate(api.get("/api/v1/api-keys/current").json(), "ApiKeyData")


def test_store_payment_methods_filters(api: APIClient, merchant: Merchant, settings: Any) -> None:
    settings.MERCHANT_INVOICE_ONCHAIN = False
    everything = api.get(store_url(merchant, "payment-methods")).json()
    assert {m["paymentMethodId"]: m["enabled"] for m in everything} == {
        "BTC-CHAIN": False,
        "BTC-ALATAU": True,
    }
    enabled = api.get(store_url(merchant, "payment-methods?onlyEnabled=true")).json()
    assert [m["paymentMethodId"] for m in enabled] == ["BTC-ALATAU"]
    config = api.get(store_url(merchant, "payment-methods?includeConfig=true"))
    assert config.status_code == 403
    assert config.json()["missingPermission"] == "btcpay.store.canmodifystoresettings"


def test_activate_payment_method(api: APIClient, merchant: Merchant) -> None:
    invoice_id = _invoice(api, merchant)
    url = f"/api/v1/invoices/{invoice_id}/payment-methods/BTC-CHAIN/activate"
    assert api.post(url).status_code == 200  # no node in this test: stays without an address
    bad = api.post(f"/api/v1/invoices/{invoice_id}/payment-methods/BTC-LN/activate")
    assert problems(bad) == {"paymentMethod": "Invalid payment method"}
    missing = api.post("/api/v1/invoices/nope/payment-methods/BTC-CHAIN/activate")
    assert missing.json()["code"] == "invoice-not-found"


def test_server_info_needs_a_key_and_health_does_not(api: APIClient, no_node: None) -> None:
    assert APIClient().get("/api/v1/server/info").json()["code"] == "unauthenticated"
    info = api.get("/api/v1/server/info/").json()
    assert info["fullySynched"] is False  # no node in this test
    assert info["syncStatus"][0]["available"] is False
    assert APIClient().get("/api/v1/health/").json() == {"synchronized": False}


def test_head_reads_like_get(api: APIClient, merchant: Merchant) -> None:
    assert api.head(store_url(merchant, "invoices")).status_code == 200
    assert APIClient().head(store_url(merchant, "invoices")).status_code == 401
