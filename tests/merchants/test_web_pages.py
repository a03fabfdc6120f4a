"""The merchant web door: dashboard, invoices and CSV, refunds with 2FA, till, links, payouts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account, AccountKind, Transfer, User
from accounts.selectors import ledger_check
from accounts.services import system_account, transfer_create
from custody.models import Deposit, DepositStatus
from merchants.models import (
    Invoice,
    Merchant,
    PaymentRequest,
    PayoutAddress,
    Refund,
    WebhookDelivery,
)
from merchants.services.invoices import invoice_create
from merchants.services.keys import api_key_create
from merchants.services.payments import invoice_pay_in_bank
from merchants.services.webhooks import webhook_create
from tests.banking.conftest import enable_2fa, otp_code, otp_lockout_elapse
from tests.conftest import rate_feed
from tests.merchants.test_payments import attach_address, observe

pytestmark = pytest.mark.django_db

MID = 45_000_000_00


@pytest.fixture
def owner_client(merchant: Merchant) -> Client:
    client = Client()
    client.force_login(merchant.owner)
    return client


@pytest.fixture
def payer(make_user: Callable[..., User], funded_account: Callable[..., Account]) -> Any:
    user = make_user(email_verified_at=timezone.now())
    return user, funded_account(5_000_000, owner=user)


@pytest.fixture
def rate(make_user: Callable[..., User]) -> Any:
    return rate_feed(MID, 100)


def paid_invoice(merchant: Merchant, payer: Any, amount: str = "0.00100000", **kw: Any) -> Invoice:
    user, wallet = payer
    invoice = invoice_create(merchant=merchant, amount=amount, currency="BTC", **kw)
    invoice_pay_in_bank(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    invoice.refresh_from_db()
    return invoice


def test_only_the_store_owner_sees_merchant_pages(
    merchant: Merchant, make_user: Callable[..., User]
) -> None:
    stranger = Client()
    assert stranger.get("/merchant/").status_code == 302  # to the login page
    stranger.force_login(make_user())
    assert stranger.get("/merchant/").status_code == 404
    staff = Client()
    staff.force_login(make_user(is_staff=True))
    assert staff.get("/merchant/invoices/").status_code == 403


def test_dashboard_shows_store_balances_and_takings(
    rate: Any, merchant: Merchant, payer: Any, owner_client: Client
) -> None:
    paid_invoice(merchant, payer, "0.00100000", metadata={"orderId": "A-1"})
    page = owner_client.get("/merchant/").content.decode()
    assert "0.00100000 BTC" in page  # store balance and today's takings
    assert "45\u202f000.00 KZT" in page  # its KZT value at 45 000 000 KZT/BTC
    assert "A-1" in page
    personal = owner_client.get("/").content.decode()
    assert 'data-testid="store-summary"' in personal and "0.00100000 BTC" in personal
    assert 'data-testid="nav-shop"' in personal


def test_invoice_filters(merchant: Merchant, payer: Any, owner_client: Client) -> None:
    paid_invoice(merchant, payer, metadata={"orderId": "ORD-7"})
    invoice_create(merchant=merchant, amount="0.002", currency="BTC", metadata={"orderId": "ORD-8"})
    page = owner_client.get("/merchant/invoices/?status=Settled").content.decode()
    assert "ORD-7" in page and "ORD-8" not in page
    page = owner_client.get("/merchant/invoices/?order_id=ORD-8").content.decode()
    assert "ORD-8" in page and "ORD-7" not in page
    page = owner_client.get("/merchant/invoices/?q=ord-7").content.decode()
    assert "ORD-7" in page and "ORD-8" not in page
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    page = owner_client.get(f"/merchant/invoices/?date_from={tomorrow}").content.decode()
    assert "ORD-7" not in page and "No invoices yet." in page
    assert owner_client.get("/merchant/invoices/?date_from=nonsense").status_code == 200


def test_csv_has_kzt_at_each_payments_rate_as_in_the_ledger(
    rate: Any, merchant: Merchant, payer: Any, owner_client: Client, make_user: Callable[..., User]
) -> None:
    first = paid_invoice(merchant, payer, "0.00050000", metadata={"orderId": "C-1"})
    rate_feed(MID * 2, 100)
    second = paid_invoice(merchant, payer, "0.00020000", metadata={"orderId": "C-2"})
    response = owner_client.get("/merchant/invoices/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = {r["invoice_id"]: r for r in csv.DictReader(io.StringIO(text))}
    for invoice, rate_text in ((first, "45000000.00"), (second, "90000000.00")):
        row = rows[invoice.id]
        transfer = Transfer.objects.get(pk=int(row["ledger_transfer_id"]))
        assert transfer.credit_account_id == merchant.btc_account_id
        assert int(row["amount_btc"].replace(".", "")) == transfer.amount_minor
        expected = transfer.amount_minor * int(rate_text.replace(".", "")) // 100_000_000
        assert row["rate_kzt_per_btc"] == rate_text
        assert int(row["value_kzt"].replace(".", "")) == expected
    assert rows[first.id]["value_kzt"] == "22500.00"
    assert rows[second.id]["value_kzt"] == "18000.00"


def test_refund_needs_the_owners_code(merchant: Merchant, payer: Any, owner_client: Client) -> None:
    _, wallet = payer
    invoice = paid_invoice(merchant, payer)
    url = f"/merchant/invoices/{invoice.id}/"
    form = {"method": "InBank", "amount": "", "address": "", "otp_code": "123456"}
    page = owner_client.post(url, form).content.decode()
    assert "Turn on two-factor authentication" in page
    enable_2fa(merchant.owner)
    page = owner_client.post(url, form).content.decode()
    assert page.count("This code is not valid") == 1  # once, at the field
    assert not Refund.objects.exists()
    otp_lockout_elapse(merchant.owner)  # the wrong code throttles the device: wait it out
    response = owner_client.post(url, {**form, "otp_code": otp_code(merchant.owner)})
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.method, refund.amount_sats) == ("InBank", 100_000)
    wallet.refresh_from_db()
    assert wallet.posted_minor == 5_000_000
    assert ledger_check() == []


def test_till_charge_and_status(merchant: Merchant, payer: Any, owner_client: Client) -> None:
    items = json.dumps([{"name": "Latte", "price": "1500.00", "quantity": 2}])
    response = owner_client.post(
        "/merchant/pos/", {"currency": "BTC", "amount": "0.0005", "items": "", "memo": "table 4"}
    )
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.currency, invoice.amount_minor) == ("BTC", 50_000)
    status = owner_client.get(f"/merchant/pos/{invoice.id}/status").json()
    assert (status["stage"], status["seen"], status["settled"]) == ("waiting", False, False)
    page = owner_client.get(f"/merchant/pos/{invoice.id}/").content.decode()
    assert 'viewBox="0 0' in page and f"/i/{invoice.id}" in page
    user, wallet = payer
    invoice_pay_in_bank(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    status = owner_client.get(f"/merchant/pos/{invoice.id}/status").json()
    assert (status["stage"], status["method"], status["confirmed"]) == ("settled", "in-bank", True)
    receipt = owner_client.get(f"/merchant/pos/{invoice.id}/receipt").content.decode()
    assert "table 4" in receipt and "0.00050000 BTC" in receipt
    # Items in KZT need a rate; without one the till says so and creates nothing.
    response = owner_client.post(
        "/merchant/pos/", {"currency": "KZT", "amount": "0", "items": items}
    )
    assert response.status_code == 400 and Invoice.objects.count() == 1
    bad = owner_client.post("/merchant/pos/", {"currency": "BTC", "amount": "1.123456789"})
    assert bad.status_code == 400 and "decimal" in bad.content.decode().lower()


def test_till_items_sum_in_kzt(rate: Any, merchant: Merchant, owner_client: Client) -> None:
    items = json.dumps(
        [{"name": "Latte", "price": "1500.00", "quantity": 2}, {"name": "Cake", "price": "990.50"}]
    )
    assert (
        owner_client.post(
            "/merchant/pos/", {"currency": "KZT", "amount": "0", "items": items}
        ).status_code
        == 302
    )
    invoice = Invoice.objects.get()
    assert (invoice.currency, invoice.amount_minor) == ("KZT", 399_050)
    assert invoice.metadata["posData"]["cart"][0] == {
        "name": "Latte",
        "quantity": 2,
        "price": "1500.00",
    }


def test_payment_request_link_creates_an_invoice_and_completes(
    merchant: Merchant, payer: Any, owner_client: Client
) -> None:
    response = owner_client.post(
        "/merchant/requests/",
        {"title": "Catering", "currency": "BTC", "amount": "0.0005", "description": "Friday lunch"},
    )
    assert response.status_code == 302
    pr = PaymentRequest.objects.get()
    public = Client()
    page = public.get(f"/r/{pr.id}").content.decode()
    assert "Catering" in page and "0.00050000 BTC" in page and "Friday lunch" in page
    response = public.post(f"/r/{pr.id}/pay")
    invoice = Invoice.objects.get()
    assert response["Location"] == f"/i/{invoice.id}"
    assert public.post(f"/r/{pr.id}/pay")["Location"] == f"/i/{invoice.id}"  # reused, not a second
    user, wallet = payer
    invoice_pay_in_bank(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    assert "Paid" in public.get(f"/r/{pr.id}").content.decode()
    assert public.post(f"/r/{pr.id}/pay").status_code == 302
    assert Invoice.objects.count() == 1
    owner_client.post(f"/merchant/requests/{pr.id}/archive")
    pr.refresh_from_db()
    assert pr.archived


def test_payout_address_needs_2fa_and_cools_down(
    merchant: Merchant, owner_client: Client, settings: Any
) -> None:
    settings.WITHDRAWAL_ADDRESS_COOLDOWN_S = 3600
    enable_2fa(merchant.owner)
    address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    form = {"action": "address", "a-label": "Cold", "a-address": address, "a-otp_code": "000000"}
    owner_client.post("/merchant/payouts/", form)
    assert not PayoutAddress.objects.exists()
    otp_lockout_elapse(merchant.owner)  # the wrong code throttles the device: wait it out
    form["a-otp_code"] = otp_code(merchant.owner)
    assert owner_client.post("/merchant/payouts/", form).status_code == 302
    saved = PayoutAddress.objects.get()
    assert saved.usable_from > timezone.now() + timedelta(minutes=59)
    page = owner_client.get("/merchant/payouts/").content.decode()
    assert "usable from" in page and "Add an address to the allow-list first" in page


def test_key_revoke_asks_first(merchant: Merchant, owner_client: Client) -> None:
    key, _ = api_key_create(
        merchant=merchant,
        label="shop",
        scopes=["btcpay.store.canviewinvoices"],
        actor=merchant.owner,
    )
    page = owner_client.get("/merchant/keys/").content.decode()
    listed = page[page.index('data-testid="keys"') :]
    assert "View invoices" in listed and "btcpay.store.canviewinvoices" not in listed
    confirm = owner_client.get(f"/merchant/keys/{key.pk}/revoke")
    assert confirm.status_code == 200 and "Revoke the key" in confirm.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None
    owner_client.post(f"/merchant/keys/{key.pk}/revoke")
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_checkout_shows_payment_seen_while_in_the_mempool(merchant: Merchant) -> None:
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC")
    address = attach_address(invoice)
    observe(address, 100_000, confirmations=0)
    page = Client().get(f"/i/{invoice.id}").content.decode()
    assert 'data-testid="payment-seen"' in page and "0 of 1 confirmations" in page
    assert Client().get(f"/i/{invoice.id}/status").json()["seenConfirmations"] == 0


def test_checkout_error_is_said_once(
    merchant: Merchant, make_user: Callable[..., User], funded_account: Callable[..., Account]
) -> None:
    user = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=user)
    invoice = invoice_create(merchant=merchant, amount="0.002", currency="BTC")  # over tier 0
    browser = Client()
    browser.force_login(user)
    text = browser.post(
        f"/i/{invoice.id}/pay", {"account": wallet.pk}, follow=True
    ).content.decode()
    assert text.count('class="msg msg-error"') == 1
    assert text.count("over your per-transaction limit") == 1, text


def test_refund_and_payout_are_checked_before_the_code(
    merchant: Merchant, payer: Any, owner_client: Client, settings: Any
) -> None:
    settings.WITHDRAWAL_ADDRESS_COOLDOWN_S = 0
    enable_2fa(merchant.owner)
    invoice = paid_invoice(merchant, payer)
    url = f"/merchant/invoices/{invoice.id}/"
    form = {"method": "InBank", "amount": "0.002", "address": "", "otp_code": "000000"}
    page = owner_client.post(url, form).content.decode()
    assert "At most 0.00100000 BTC is left." in page and "code is not valid" not in page
    form = {"method": "OnChain", "amount": "", "address": "nonsense", "otp_code": "000000"}
    page = owner_client.post(url, form).content.decode()
    assert "code is not valid" not in page and not Refund.objects.exists()
    address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    PayoutAddress.objects.create(
        merchant=merchant, label="Cold", address=address, usable_from=timezone.now()
    )
    saved = PayoutAddress.objects.get()
    payout = {"action": "payout", "p-address": saved.pk, "p-amount": "0.5", "p-otp_code": "000000"}
    page = owner_client.post("/merchant/payouts/", payout).content.decode()
    assert "The store has 0.00100000 BTC available" in page and "code is not valid" not in page


def test_webhook_deliveries_listed_and_redelivered(
    merchant: Merchant, owner_client: Client
) -> None:
    webhook = webhook_create(
        merchant=merchant, url="https://shop.example/h", secret=None, actor=None
    )
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC")
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    page = owner_client.get("/merchant/webhooks/").content.decode()
    assert "https://shop.example/h" in page and "InvoiceCreated" in page and invoice.id in page
    url = f"/merchant/webhooks/{webhook.id}/deliveries/{delivery.id}/redeliver"
    assert owner_client.post(url).status_code == 302
    assert WebhookDelivery.objects.filter(original=delivery).count() == 1
    assert (
        owner_client.post(f"/merchant/webhooks/{webhook.id}/deliveries/nope/redeliver").status_code
        == 404
    )


def test_dashboard_and_csv_queries_do_not_grow_per_invoice(
    rate: Any,
    merchant: Merchant,
    payer: Any,
    owner_client: Client,
    django_assert_max_num_queries: Any,
) -> None:
    for n in range(6):
        paid_invoice(merchant, payer, "0.00001000", metadata={"orderId": f"Q-{n}"})
    with django_assert_max_num_queries(26):  # fixed per page (nav, notifications badge)
        assert owner_client.get("/merchant/").status_code == 200
    with django_assert_max_num_queries(26):  # fixed per page (nav, notifications badge)
        response = owner_client.get("/merchant/invoices/export.csv")
        rows = b"".join(response.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert len(rows) == 7


def csv_rows(client: Client) -> dict[str, dict[str, str]]:
    response = client.get("/merchant/invoices/export.csv")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return {r["invoice_id"]: r for r in csv.DictReader(io.StringIO(text))}


def test_csv_values_an_onchain_payment_at_the_rate_of_its_credit(
    rate: Any, merchant: Merchant, owner_client: Client, make_user: Callable[..., User]
) -> None:
    invoice = invoice_create(merchant=merchant, amount="0.0002", currency="BTC")
    address = attach_address(invoice)
    deposit = observe(address, 20_000, confirmations=0)
    row = csv_rows(owner_client)[invoice.id]
    assert (row["payment_status"], row["ledger_transfer_id"]) == ("Processing", "")
    assert (row["rate_kzt_per_btc"], row["value_kzt"]) == ("45000000.00", "9000.00")
    # Custody credits the store after the rate moved: the credit's rate is the one that counts.
    rate_feed(MID * 2, 100)
    credit = transfer_create(
        debit_account_id=system_account(AccountKind.CUSTODY_HOT, "BTC").pk,
        credit_account_id=merchant.btc_account_id,
        amount_minor=20_000,
        code="deposit",
        source=deposit,
    )
    Deposit.objects.filter(pk=deposit.pk).update(transfer=credit)
    observe(address, 20_000, confirmations=1, status=DepositStatus.CREDITED, deposit=deposit)
    row = csv_rows(owner_client)[invoice.id]
    assert (row["payment_status"], row["ledger_transfer_id"]) == ("Settled", str(credit.pk))
    assert (row["rate_kzt_per_btc"], row["value_kzt"]) == ("90000000.00", "18000.00")
    assert ledger_check() == []
