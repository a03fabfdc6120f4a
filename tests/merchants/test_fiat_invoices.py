"""Invoices priced in USD/EUR through Greenfield (issue 14: fiat currencies with a bank rate).

The BTC due is the fiat price at the bank's pricing rate, rounded up to the satoshi (the
payer always covers the price, as BTCPay does) and fixed on the invoice with the rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import Account, User
from audit.models import AuditEvent
from banking.templatetags.bank import THIN_SPACE, money
from core.errors import ValidationFailed
from exchange.models import PricingRate
from exchange.services import pricing_rate_set
from merchants.models import Invoice, Merchant
from merchants.selectors_csv import CSV_HEADER, invoice_csv_rows
from merchants.selectors_sales import InvoiceFilter
from merchants.services.invoices import invoice_create
from merchants.services.merchants import merchant_default_currency_set
from merchants.services.payments import invoice_pay_in_bank
from tests.compliance.conftest import otp_client
from tests.merchants.conftest import Greenfield, problems, store_url

pytestmark = pytest.mark.django_db

USD = 64_392_23  # cents per BTC
EUR = 50_000_00


@pytest.fixture
def rates() -> tuple[PricingRate, PricingRate]:
    return (
        pricing_rate_set(currency="USD", minor_per_btc=USD, actor=None),
        pricing_rate_set(currency="EUR", minor_per_btc=EUR, actor=None),
    )


def create(api: APIClient, merchant: Merchant, body: dict[str, Any]) -> Any:
    return api.post(store_url(merchant, "invoices"), body, format="json")


@pytest.mark.parametrize(
    ("amount", "currency", "sats", "rate"),
    [
        ("19.99", "USD", 31_045, "64392.23"),  # 31 044.118... sats: rounded up
        (19.99, "usd", 31_045, "64392.23"),  # a JSON number and a lower-case code
        ("0.01", "USD", 16, "64392.23"),  # the smallest price: 15.5 sats -> 16
        ("25.00", "EUR", 50_000, "50000.00"),  # exact: no rounding
        ("25.01", "EUR", 50_020, "50000.00"),
    ],
)
def test_a_fiat_invoice_is_priced_at_the_rate_rounded_up(
    api: APIClient,
    merchant: Merchant,
    greenfield: Greenfield,
    rates: Any,
    amount: Any,
    currency: str,
    sats: int,
    rate: str,
) -> None:
    response = create(api, merchant, {"amount": amount, "currency": currency})
    assert response.status_code == 200, response.content
    body = response.json()
    greenfield.validate(body, "InvoiceData")
    assert body["currency"] == currency.upper()
    assert body["amount"] == format(Decimal(str(amount)), ".2f")
    invoice = Invoice.objects.get(pk=body["id"])
    assert (invoice.currency, invoice.amount_sats) == (currency.upper(), sats)
    assert invoice.rate_minor_per_btc == int(rate.replace(".", ""))
    assert invoice.rate_tiyn_per_btc == 0  # not a KZT quote: KZT settlement never uses it
    methods = api.get(store_url(merchant, f"invoices/{body['id']}/payment-methods")).json()
    for method in methods:
        greenfield.validate(method, "InvoicePaymentMethodDataModel")
        assert method["rate"] == rate and method["currency"] == "BTC"
        assert method["amount"] == f"0.{sats:08d}"


def test_the_btc_due_and_rate_stay_fixed_when_the_rate_moves(
    api: APIClient, merchant: Merchant, greenfield: Greenfield, rates: Any
) -> None:
    body = create(api, merchant, {"amount": "100.00", "currency": "USD"}).json()
    pricing_rate_set(currency="USD", minor_per_btc=USD + 1_000_00, actor=None)
    got = api.get(store_url(merchant, f"invoices/{body['id']}?includePaymentMethods=true"))
    method = got.json()["paymentMethods"][0]
    greenfield.validate(method, "InvoicePaymentMethodDataModel")
    assert (method["rate"], method["amount"]) == ("64392.23", "0.00155299")


def test_paid_amount_shows_in_the_invoice_currency(
    api: APIClient, merchant: Merchant, rates: Any
) -> None:
    body = create(api, merchant, {"amount": "25.00", "currency": "EUR"}).json()
    Invoice.objects.filter(pk=body["id"]).update(paid_sats=20_001)
    got = api.get(store_url(merchant, f"invoices/{body['id']}")).json()
    assert got["paidAmount"] == "10.00"  # 10.0005 EUR, rounded down to the cent


def test_a_top_up_fiat_invoice_records_its_rate(
    api: APIClient, merchant: Merchant, rates: Any
) -> None:
    body = create(api, merchant, {"amount": None, "currency": "USD"}).json()
    assert (body["type"], body["amount"], body["currency"]) == ("TopUp", "0.00", "USD")
    invoice = Invoice.objects.get(pk=body["id"])
    assert (invoice.amount_sats, invoice.rate_minor_per_btc) == (0, USD)


def test_a_stale_or_missing_rate_is_a_422_on_currency(
    api: APIClient, merchant: Merchant, rates: tuple[PricingRate, PricingRate]
) -> None:
    PricingRate.objects.filter(currency="USD").update(
        created_at=timezone.now() - dt.timedelta(hours=24, minutes=1)
    )
    found = problems(create(api, merchant, {"amount": "1.00", "currency": "USD"}))
    assert "out of date" in found["currency"]
    PricingRate.objects.filter(currency="EUR").delete()
    found = problems(create(api, merchant, {"amount": "1.00", "currency": "EUR"}))
    assert "no EUR rate" in found["currency"]
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "1.001", "currency": "USD"}, "amount"),  # cents only
        ({"amount": "10000000000000.00", "currency": "USD"}, "amount"),  # over the cap
        ({"amount": "1.00", "currency": "XYZ"}, "currency"),
        ({"amount": "1.00", "currency": "usd "}, "currency"),
        ({"amount": "1.00", "currency": "US D"}, "currency"),
        ({"amount": "1.00", "currency": ""}, "currency"),
        ({"amount": "1.00", "currency": "JPY"}, "currency"),  # known, not offered
    ],
)
def test_bad_fiat_input_is_a_422(
    api: APIClient, merchant: Merchant, rates: Any, body: dict[str, Any], field: str
) -> None:
    assert field in problems(create(api, merchant, body))


def test_a_price_worth_more_than_21_million_btc_is_refused(
    api: APIClient, merchant: Merchant, settings: Any
) -> None:
    settings.PRICING_FIAT_CURRENCIES = ["USD", "EUR", "JPY"]
    pricing_rate_set(currency="JPY", minor_per_btc=1, actor=None)  # 1 yen per BTC
    found = problems(create(api, merchant, {"amount": "21000001", "currency": "JPY"}))
    assert "amount" in found
    response = create(api, merchant, {"amount": "2100", "currency": "JPY"})
    assert response.status_code == 200, response.content
    assert response.json()["amount"] == "2100"  # JPY has no minor unit


@pytest.mark.parametrize("body", [{"amount": "0.001"}, {"amount": "0.001", "currency": None}])
def test_no_currency_is_the_stores_default(
    api: APIClient, merchant: Merchant, greenfield: Greenfield, rates: Any, body: dict[str, Any]
) -> None:
    store = api.get(f"/api/v1/stores/{merchant.store_id}").json()
    greenfield.validate(store, "StoreData")
    assert store["defaultCurrency"] == "BTC"
    assert create(api, merchant, body).json()["currency"] == "BTC"
    merchant_default_currency_set(merchant_id=merchant.pk, currency="usd", actor=None)
    store = api.get(f"/api/v1/stores/{merchant.store_id}").json()
    greenfield.validate(store, "StoreData")
    assert store["defaultCurrency"] == "USD"
    priced = {**body, "amount": "19.99"}
    invoice = create(api, merchant, priced).json()
    assert (invoice["currency"], invoice["amount"]) == ("USD", "19.99")


def test_a_default_currency_must_be_one_the_bank_prices(merchant: Merchant) -> None:
    for bad in ("XYZ", "", None, "JPY"):
        with pytest.raises(ValidationFailed):
            merchant_default_currency_set(merchant_id=merchant.pk, currency=bad, actor=None)
    merchant.refresh_from_db()
    assert merchant.default_currency == "BTC"


def test_the_csv_and_web_list_show_the_currency_and_rate(
    api: APIClient, merchant: Merchant, rates: Any
) -> None:
    create(api, merchant, {"amount": "19.99", "currency": "USD"})
    header, row = list(invoice_csv_rows(merchant=merchant, filters=InvoiceFilter()))
    cells = dict(zip(CSV_HEADER, row, strict=True))
    assert header == CSV_HEADER
    assert (cells["currency"], cells["amount"], cells["invoice_rate_per_btc"]) == (
        "USD",
        "19.99",
        "64392.23",
    )
    # The web pages render amounts with the ``money`` filter, in the invoice's currency.
    assert money(1999, "USD").endswith("19.99 USD")
    assert money(2100, "JPY") == f"2{THIN_SPACE}100 JPY"


def test_a_current_rate_refund_of_a_usd_invoice_uses_the_usd_rate(
    api: APIClient,
    merchant: Merchant,
    rates: Any,
    settings: Any,
    make_user: Callable[..., User],
    funded_account: Callable[..., Account],
) -> None:
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    invoice = invoice_create(merchant=merchant, amount="19.99", currency="USD")
    invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    settings.EXCHANGE_RATE_JUMP_MAX_BP = 20_000  # a feed doubling the rate, for the test
    pricing_rate_set(currency="USD", minor_per_btc=USD * 2, actor=None)
    response = api.post(
        f"/api/v1/invoices/{invoice.id}/refund", {"refundVariant": "CurrentRate"}, format="json"
    )
    assert response.status_code == 200, response.content
    # 19.99 USD at 128 784.46 USD/BTC, rounded down: never the cents read as tiyn.
    assert (response.json()["currency"], response.json()["amount"]) == ("BTC", "0.00015522")


def test_the_checkout_page_shows_the_usd_rate(
    api: APIClient, merchant: Merchant, rates: Any
) -> None:
    body = create(api, merchant, {"amount": "19.99", "currency": "USD"}).json()
    page = APIClient().get(f"/i/{body['id']}").content.decode()
    assert "0.00031045 BTC" in page and "at 64392.23 USD/BTC" in page
    assert "KZT/BTC" not in page


def test_staff_set_the_default_currency_in_the_admin(
    merchant: Merchant, make_user: Callable[..., User]
) -> None:
    ops = make_user(is_staff=True)
    ops.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_merchant", "view_merchant"])
    )
    TOTPDevice.objects.create(user=ops, name="admin", confirmed=True)
    client = otp_client(User.objects.get(pk=ops.pk))
    url = f"/admin/merchants/merchant/{merchant.pk}/change/"
    response = client.post(url, {"default_currency": "EUR"}, follow=True)
    assert response.status_code == 200
    merchant.refresh_from_db()
    assert merchant.default_currency == "EUR"
    event = AuditEvent.objects.get(action="merchant.default_currency")
    assert event.data == {"before": "BTC", "after": "EUR"}
