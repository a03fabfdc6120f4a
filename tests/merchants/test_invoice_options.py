"""Invoice options as Greenfield has them: top-up, currencies, checkout options honoured."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, User
from custody.models import DepositStatus
from exchange.services import exchange_rate_set
from merchants.errors import InvoiceNotPayable
from merchants.models import Invoice, Merchant
from merchants.services.payments import invoice_pay_in_bank
from tests.merchants.conftest import Greenfield, problems, store_url
from tests.merchants.test_payments import attach_address, observe

pytestmark = pytest.mark.django_db


def create(api: APIClient, merchant: Merchant, body: dict[str, Any]) -> Any:
    return api.post(store_url(merchant, "invoices"), body, format="json")


def test_topup_invoice_takes_any_payment(
    api: APIClient, merchant: Merchant, greenfield: Greenfield
) -> None:
    for body in ({}, {"amount": None}, {"metadata": {"orderId": "t-1"}}):
        response = create(api, merchant, body)
        assert response.status_code == 200, response.content
        assert response.json()["type"] == "TopUp"
        assert response.json()["amount"] == "0.00000000"
    greenfield.validate(response.json(), "InvoiceData")
    invoice = Invoice.objects.get(pk=response.json()["id"])
    address = attach_address(invoice)
    observe(address, 12_345, status=DepositStatus.CREDITED)
    body = api.get(f"/api/v1/invoices/{invoice.id}").json()
    assert (body["status"], body["additionalStatus"]) == ("Settled", "None")  # never PaidOver
    assert body["amount"] == body["paidAmount"] == "0.00012345"
    methods = api.get(f"/api/v1/invoices/{invoice.id}/payment-methods").json()
    assert "amount=" not in methods[0]["paymentLink"]  # the payer chooses the amount


def test_topup_invoice_is_not_paid_in_bank(
    api: APIClient, merchant: Merchant, make_user: Any, funded_account: Any
) -> None:
    invoice_id = create(api, merchant, {}).json()["id"]
    payer: User = make_user(email_verified_at=timezone.now())
    wallet: Account = funded_account(1_000_000, owner=payer)
    with pytest.raises(InvoiceNotPayable):
        invoice_pay_in_bank(invoice_id=invoice_id, payer=payer, account_id=wallet.pk)


def test_kzt_invoice_with_a_rate(api: APIClient, merchant: Merchant) -> None:
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    body = create(api, merchant, {"amount": 25000, "currency": "kzt"}).json()
    assert (body["currency"], body["amount"]) == ("KZT", "25000.00")
    topup = create(api, merchant, {"currency": "KZT"}).json()
    assert (topup["type"], topup["currency"]) == ("TopUp", "KZT")


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_fiat_without_a_bank_rate_is_a_clear_422(
    api: APIClient, merchant: Merchant, currency: str
) -> None:
    found = problems(create(api, merchant, {"amount": "10", "currency": currency}))
    assert f"no {currency} rate" in found["currency"]


def test_payment_methods_are_honoured(
    api: APIClient, merchant: Merchant, make_user: Any, funded_account: Any
) -> None:
    chain_only = create(
        api, merchant, {"amount": "0.001", "checkout": {"paymentMethods": ["BTC-CHAIN"]}}
    )
    body = chain_only.json()
    assert body["checkout"]["paymentMethods"] == ["BTC-CHAIN"]
    assert body["checkout"]["defaultPaymentMethod"] == "BTC-CHAIN"
    methods = api.get(f"/api/v1/invoices/{body['id']}/payment-methods").json()
    assert [m["paymentMethodId"] for m in methods] == ["BTC-CHAIN"]
    payer: User = make_user(email_verified_at=timezone.now())
    wallet: Account = funded_account(1_000_000, owner=payer)
    with pytest.raises(InvoiceNotPayable):
        invoice_pay_in_bank(invoice_id=body["id"], payer=payer, account_id=wallet.pk)
    bank_only = create(
        api,
        merchant,
        {
            "amount": "0.001",
            "checkout": {"paymentMethods": ["BTC-ALATAU"], "defaultPaymentMethod": "BTC-ALATAU"},
        },
    ).json()
    assert bank_only["checkout"]["defaultPaymentMethod"] == "BTC-ALATAU"
    invoice_pay_in_bank(invoice_id=bank_only["id"], payer=payer, account_id=wallet.pk)
    assert api.get(f"/api/v1/invoices/{bank_only['id']}").json()["status"] == "Settled"


def test_monitoring_minutes_are_honoured(api: APIClient, merchant: Merchant) -> None:
    body = create(
        api,
        merchant,
        {"amount": "0.001", "checkout": {"expirationMinutes": 10, "monitoringMinutes": 60}},
    ).json()
    assert body["checkout"]["monitoringMinutes"] == 60
    assert body["monitoringExpiration"] == body["expirationTime"] + 3600
    default = create(api, merchant, {"amount": "0.001"}).json()
    assert default["monitoringExpiration"] == default["expirationTime"] + 1440 * 60


def test_redirect_url_placeholders(api: APIClient, merchant: Merchant) -> None:
    body = create(
        api,
        merchant,
        {
            "amount": "0.001",
            "metadata": {"orderId": "A 17/x"},
            "checkout": {"redirectURL": "https://shop.example/done?i={InvoiceId}&o={OrderId}"},
        },
    ).json()
    assert body["checkout"]["redirectURL"].endswith("i={InvoiceId}&o={OrderId}")  # as given
    api.post(f"/api/v1/invoices/{body['id']}/status", {"status": "Settled"}, format="json")
    page = Client().get(f"/i/{body['id']}").content.decode()
    assert f"https://shop.example/done?i={body['id']}&amp;o=A%2017%2Fx" in page


def test_include_payment_methods(api: APIClient, merchant: Merchant) -> None:
    invoice_id = create(api, merchant, {"amount": "0.001"}).json()["id"]
    plain = api.get(f"/api/v1/invoices/{invoice_id}").json()
    assert "paymentMethods" not in plain
    full = api.get(f"/api/v1/invoices/{invoice_id}?includePaymentMethods=true").json()
    assert [m["paymentMethodId"] for m in full["paymentMethods"]] == ["BTC-CHAIN", "BTC-ALATAU"]
    listed = api.get(store_url(merchant, "invoices") + "?includePaymentMethods=true").json()
    assert listed[0]["paymentMethods"] == full["paymentMethods"]


def test_list_filters(api: APIClient, merchant: Merchant) -> None:
    first = create(api, merchant, {"amount": "0.001", "metadata": {"orderId": "o-1"}}).json()
    second = create(api, merchant, {"amount": "0.002", "metadata": {"orderId": "o-2"}}).json()
    api.post(f"/api/v1/invoices/{first['id']}/status", {"status": "Invalid"}, format="json")
    url = store_url(merchant, "invoices")
    assert [i["id"] for i in api.get(url + "?status=Invalid").json()] == [first["id"]]
    both = api.get(url + "?orderId=o-1&orderId=o-2").json()
    assert {i["id"] for i in both} == {first["id"], second["id"]}
    assert [i["id"] for i in api.get(url + "?textSearch=o-2").json()] == [second["id"]]
    assert [i["id"] for i in api.get(url + "?take=1").json()] == [second["id"]]
    assert [i["id"] for i in api.get(url + "?skip=1&take=1").json()] == [first["id"]]
    assert api.get(url + f"?startDate={first['createdTime'] + 100000}").json() == []
