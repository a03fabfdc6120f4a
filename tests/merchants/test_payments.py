"""Paying invoices: in-bank from the checkout page, and on-chain through custody's listener.

The on-chain cases here drive the listener with custody ``Deposit`` rows in
each state the scanner produces (the regtest end-to-end run is in
``test_onchain_node.py``); the money itself is custody's to credit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.errors import InsufficientFunds
from accounts.models import Account, Transfer, User
from accounts.selectors import ledger_check
from compliance.errors import LimitExceeded
from core.errors import NotFound
from custody.models import AddressPurpose, Deposit, DepositAddress, DepositStatus
from merchants.errors import InvoiceAlreadyPaid, InvoiceNotPayable
from merchants.models import Invoice, InvoicePayment, Merchant, WebhookDelivery
from merchants.services.invoices import invoice_create, invoice_expire_due
from merchants.services.payments import invoice_deposit_listener, invoice_pay_in_bank
from tests.conftest import run_threads
from tests.merchants.conftest import Greenfield, store_url

pytestmark = pytest.mark.django_db

_outpoints = itertools.count(1)


@pytest.fixture
def customer(make_user: Callable[..., User]) -> User:
    return make_user(email_verified_at=timezone.now())


@pytest.fixture
def wallet(customer: User, funded_account: Callable[..., Account]) -> Account:
    return funded_account(1_000_000, owner=customer)


def new_invoice(merchant: Merchant, amount: str = "0.00100000", **checkout: Any) -> Invoice:
    return invoice_create(
        merchant=merchant,
        amount=amount,
        currency="BTC",
        checkout=checkout,
        metadata={"orderId": "x"},
    )


def test_pay_in_bank_settles_at_once(
    merchant: Merchant, customer: User, wallet: Account, api: APIClient, greenfield: Greenfield
) -> None:
    invoice = new_invoice(merchant)
    payment = invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    invoice.refresh_from_db()
    wallet.refresh_from_db()
    merchant.btc_account.refresh_from_db()
    assert (invoice.status, invoice.additional_status) == ("Settled", "None")
    assert (wallet.posted_minor, wallet.held_minor) == (900_000, 0)
    assert merchant.btc_account.posted_minor == 100_000
    assert payment.transfer is not None and payment.transfer.code == "payment"
    body = api.get(store_url(merchant, f"invoices/{invoice.id}")).json()
    greenfield.validate(body, "InvoiceData")
    assert (body["status"], body["paidAmount"]) == ("Settled", "0.00100000")
    methods = api.get(store_url(merchant, f"invoices/{invoice.id}/payment-methods")).json()
    bank = methods[1]
    greenfield.validate(bank, "InvoicePaymentMethodDataModel")
    greenfield.validate(bank["payments"][0], "Payment")
    assert bank["payments"][0]["status"] == "Settled" and bank["due"] == "0.00000000"
    events = list(WebhookDelivery.objects.values_list("event_type", flat=True))
    assert events == []  # no webhook configured: nothing queued
    assert ledger_check() == []


def test_pay_twice_is_one_payment(
    merchant: Merchant,
    customer: User,
    wallet: Account,
    make_user: Callable[..., User],
    funded_account: Callable[..., Account],
) -> None:
    invoice = new_invoice(merchant)
    first = invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    again = invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    assert again.pk == first.pk
    other = make_user(email_verified_at=timezone.now())
    other_wallet = funded_account(1_000_000, owner=other)
    with pytest.raises(InvoiceAlreadyPaid):
        invoice_pay_in_bank(invoice_id=invoice.id, payer=other, account_id=other_wallet.pk)
    assert Transfer.objects.filter(code="payment").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_pay_once(
    make_merchant: Callable[..., Merchant],
    make_user: Callable[..., User],
    funded_account: Callable[..., Account],
) -> None:
    merchant = make_merchant()
    invoice = new_invoice(merchant)
    payers = [make_user(email_verified_at=timezone.now()) for _ in range(8)]
    wallets = [funded_account(1_000_000, owner=p) for p in payers]

    def pay(i: int) -> Any:
        return invoice_pay_in_bank(invoice_id=invoice.id, payer=payers[i], account_id=wallets[i].pk)

    results = run_threads(8, pay)
    paid = [r for r in results if isinstance(r, InvoicePayment)]
    refused = [r for r in results if isinstance(r, InvoiceAlreadyPaid)]
    assert len(paid) == 1 and len(refused) == 7, results
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.posted_minor == 100_000
    assert (
        sum(Account.objects.get(pk=w.pk).posted_minor for w in wallets) == 8 * 1_000_000 - 100_000
    )
    assert ledger_check() == []


def test_cannot_pay_expired_invalid_or_with_someone_elses_account(
    merchant: Merchant,
    customer: User,
    wallet: Account,
    make_user: Callable[..., User],
    funded_account: Callable[..., Account],
) -> None:
    invoice = new_invoice(merchant)
    stranger_wallet = funded_account(1_000_000, owner=make_user())
    with pytest.raises(NotFound, match="Account not found"):
        invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=stranger_wallet.pk)
    Invoice.objects.filter(pk=invoice.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InvoiceNotPayable):
        invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    invoice.refresh_from_db()
    assert invoice.status == "Expired"  # the expiry committed even though the payment failed
    poor = funded_account(10, owner=customer)
    second = new_invoice(merchant)
    with pytest.raises(InsufficientFunds, match="nsufficient"):
        invoice_pay_in_bank(invoice_id=second.id, payer=customer, account_id=poor.pk)
    second.refresh_from_db()
    assert second.status == "New" and not second.payments.exists()
    assert ledger_check() == []


def test_checkout_page_and_pay_button(merchant: Merchant, customer: User, wallet: Account) -> None:
    invoice = new_invoice(merchant)
    anonymous = Client()
    page = anonymous.get(f"/i/{invoice.id}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "0.00100000 BTC" in html and "Log in to pay" in html and 'id="countdown"' in html
    assert anonymous.post(f"/i/{invoice.id}/pay").status_code == 302  # to the login page
    browser = Client()
    browser.force_login(customer)
    assert "Pay 0.00100000 BTC now" in browser.get(f"/i/{invoice.id}").content.decode()
    response = browser.post(f"/i/{invoice.id}/pay", {"account": wallet.pk})
    assert response.status_code == 302
    assert browser.post(f"/i/{invoice.id}/pay", {"account": wallet.pk}).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "Settled" and invoice.payments.count() == 1
    assert "payment received" in browser.get(f"/i/{invoice.id}").content.decode()
    assert Client().get("/i/doesnotexist").status_code == 404
    assert Client().get(f"/i/{invoice.id}/status").json() == {
        "status": "Settled",
        "additionalStatus": "None",
        "seenConfirmations": None,
    }


def test_checkout_page_shows_qr_and_bip21(merchant: Merchant) -> None:
    invoice = new_invoice(merchant)
    attach_address(invoice)
    html = Client().get(f"/i/{invoice.id}").content.decode()
    assert "<svg" in html and f"bitcoin:{invoice.destination}?amount=0.00100000" in html


# --- on-chain, through custody's listener --------------------------------------------------


def attach_address(invoice: Invoice) -> DepositAddress:
    n = next(_outpoints)
    address = DepositAddress.objects.create(
        account=invoice.merchant.btc_account,
        address=f"bcrt1qtestaddress{invoice.id.lower()}{n}",
        purpose=AddressPurpose.INVOICE,
        required_confirmations=invoice.required_confirmations,
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        deposit_address_id=address.pk, destination=address.address
    )
    invoice.refresh_from_db()
    return address


def observe(
    address: DepositAddress,
    sats: int,
    confirmations: int = 0,
    status: str = DepositStatus.PENDING,
    deposit: Deposit | None = None,
) -> Deposit:
    """Write the deposit as custody's scanner would, then call the listener with it."""
    if deposit is None:
        deposit = Deposit.objects.create(
            txid=f"{next(_outpoints):064x}",
            vout=0,
            address=address.address,
            deposit_address=address,
            amount_sats=sats,
            confirmations=confirmations,
            status=status,
        )
    else:
        Deposit.objects.filter(pk=deposit.pk).update(confirmations=confirmations, status=status)
        deposit.refresh_from_db()
    invoice_deposit_listener(deposit)
    return deposit


def state(invoice: Invoice) -> tuple[str, str]:
    invoice.refresh_from_db()
    return invoice.status, invoice.additional_status


def events(invoice: Invoice) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(invoice=invoice)
        .order_by("created_at", "pk")
        .values_list("event_type", flat=True)
    )


@pytest.fixture
def hooked(api: APIClient, merchant: Merchant) -> None:
    api.post(store_url(merchant, "webhooks"), {"url": "https://shop.example/h"}, format="json")


def test_onchain_full_payment_processing_then_settled(
    merchant: Merchant, hooked: None, api: APIClient, greenfield: Greenfield
) -> None:
    invoice = new_invoice(merchant, speedPolicy="LowMediumSpeed")
    address = attach_address(invoice)
    deposit = observe(address, 100_000)
    assert state(invoice) == ("Processing", "None")
    observe(address, 100_000, confirmations=1, deposit=deposit)
    assert state(invoice) == ("Processing", "None")
    observe(address, 100_000, confirmations=2, status=DepositStatus.CREDITED, deposit=deposit)
    assert state(invoice) == ("Settled", "None")
    observe(address, 100_000, confirmations=3, status=DepositStatus.CREDITED, deposit=deposit)
    assert events(invoice) == [
        "InvoiceCreated",
        "InvoiceReceivedPayment",
        "InvoiceProcessing",
        "InvoicePaymentSettled",
        "InvoiceSettled",
    ]
    methods = api.get(store_url(merchant, f"invoices/{invoice.id}/payment-methods")).json()
    payment = methods[0]["payments"][0]
    greenfield.validate(payment, "Payment")
    assert payment["id"] == f"{deposit.txid}-0" and payment["status"] == "Settled"
    assert payment["destination"] == address.address
    for delivery in WebhookDelivery.objects.filter(invoice=invoice):
        import json

        body = json.loads(delivery.body)
        schema = {
            "InvoiceCreated": "WebhookInvoiceEvent",
            "InvoiceReceivedPayment": "WebhookInvoiceReceivedPaymentEvent",
            "InvoicePaymentSettled": "WebhookInvoicePaymentSettledEvent",
            "InvoiceProcessing": "WebhookInvoiceProcessingEvent",
            "InvoiceSettled": "WebhookInvoiceSettledEvent",
        }[body["type"]]
        greenfield.validate(body, schema)


def test_onchain_partial_then_rest(merchant: Merchant) -> None:
    invoice = new_invoice(merchant, speedPolicy="HighSpeed")
    address = attach_address(invoice)
    observe(address, 40_000, status=DepositStatus.CREDITED)
    assert state(invoice) == ("New", "PaidPartial")
    observe(address, 60_000, status=DepositStatus.CREDITED)
    assert state(invoice) == ("Settled", "None")


def test_onchain_overpayment(merchant: Merchant) -> None:
    invoice = new_invoice(merchant, speedPolicy="HighSpeed")
    address = attach_address(invoice)
    observe(address, 150_000, status=DepositStatus.CREDITED)
    assert state(invoice) == ("Settled", "PaidOver")
    observe(address, 1_000, status=DepositStatus.CREDITED)  # more after settling
    assert state(invoice) == ("Settled", "PaidOver")


def test_payment_tolerance(merchant: Merchant) -> None:
    invoice = new_invoice(merchant, speedPolicy="HighSpeed", paymentTolerance=2)
    address = attach_address(invoice)
    observe(address, 98_000, status=DepositStatus.CREDITED)
    assert state(invoice) == ("Settled", "None")


def test_partial_then_expired_then_paid_late(merchant: Merchant, hooked: None) -> None:
    invoice = new_invoice(merchant, speedPolicy="HighSpeed")
    address = attach_address(invoice)
    observe(address, 10_000, status=DepositStatus.CREDITED)
    assert invoice_expire_due(now=timezone.now() + timedelta(minutes=16)) == 1
    assert state(invoice) == ("Expired", "PaidPartial")
    Invoice.objects.filter(pk=invoice.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    observe(address, 90_000, status=DepositStatus.CREDITED)
    assert state(invoice) == ("Expired", "PaidLate")
    invoice.refresh_from_db()
    assert invoice.paid_sats == 100_000
    late = invoice.payments.order_by("pk").last()
    assert late is not None and late.after_expiration
    assert "InvoiceExpired" in events(invoice)


def test_payment_after_marked_invalid_is_recorded(merchant: Merchant) -> None:
    from merchants.services.invoices import invoice_mark_status

    invoice = new_invoice(merchant, speedPolicy="HighSpeed")
    address = attach_address(invoice)
    invoice_mark_status(merchant=merchant, invoice_id=invoice.id, status="Invalid", actor=None)
    observe(address, 100_000, status=DepositStatus.CREDITED)
    assert state(invoice) == ("Invalid", "Marked")
    invoice.refresh_from_db()
    assert invoice.paid_sats == 100_000 and invoice.payments.count() == 1


def test_reorg_of_a_processing_payment(merchant: Merchant) -> None:
    invoice = new_invoice(merchant, speedPolicy="LowSpeed")
    address = attach_address(invoice)
    deposit = observe(address, 100_000, confirmations=1)
    assert state(invoice) == ("Processing", "None")
    observe(address, 100_000, confirmations=-1, status=DepositStatus.REORGED, deposit=deposit)
    assert state(invoice) == ("New", "None")
    invoice.refresh_from_db()
    assert invoice.paid_sats == 0
    assert invoice.payments.get().status == "Invalid"


def test_reorg_after_settled_invalidates(merchant: Merchant) -> None:
    invoice = new_invoice(merchant, speedPolicy="MediumSpeed")
    address = attach_address(invoice)
    deposit = observe(address, 100_000, confirmations=1, status=DepositStatus.CREDITED)
    assert state(invoice) == ("Settled", "None")
    observe(address, 100_000, confirmations=-1, status=DepositStatus.REORGED, deposit=deposit)
    assert state(invoice) == ("Invalid", "Invalid")


def test_listener_ignores_customer_addresses_and_repeats(
    merchant: Merchant, funded_account: Callable[..., Account]
) -> None:
    account = funded_account(0)
    address = DepositAddress.objects.create(
        account=account, address="bcrt1qcustomeraddr", purpose=AddressPurpose.CUSTOMER
    )
    observe(address, 5_000)
    assert not InvoicePayment.objects.exists()
    invoice = new_invoice(merchant, speedPolicy="HighSpeed")
    inv_address = attach_address(invoice)
    deposit = observe(inv_address, 100_000, status=DepositStatus.CREDITED)
    invoice_deposit_listener(deposit)
    invoice_deposit_listener(deposit)
    assert invoice.payments.count() == 1


def test_payment_seen_in_time_but_processed_after_expiry_settles(merchant: Merchant) -> None:
    invoice = new_invoice(merchant, speedPolicy="HighSpeed")
    address = attach_address(invoice)
    deposit = Deposit.objects.create(
        txid=f"{next(_outpoints):064x}", vout=0, address=address.address,
        deposit_address=address, amount_sats=100_000, status=DepositStatus.CREDITED,
    )  # fmt: skip
    Invoice.objects.filter(pk=invoice.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
    Deposit.objects.filter(pk=deposit.pk).update(seen_at=timezone.now() - timedelta(seconds=10))
    deposit.refresh_from_db()
    invoice_deposit_listener(deposit)
    assert state(invoice) == ("Settled", "None")


def test_partial_in_time_then_expiry_on_processing(merchant: Merchant) -> None:
    invoice = new_invoice(merchant, speedPolicy="HighSpeed")
    address = attach_address(invoice)
    Invoice.objects.filter(pk=invoice.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
    observe(address, 30_000, status=DepositStatus.CREDITED)  # seen now: after the deadline
    assert state(invoice) == ("Expired", "PaidLate")


def test_large_payment_needs_the_second_factor(
    merchant: Merchant, customer: User, funded_account: Callable[..., Account]
) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from core.errors import ValidationFailed

    wallet = funded_account(5_000_000, owner=customer)
    invoice = new_invoice(merchant, amount="0.02000000")  # over the 0.01 BTC threshold
    with pytest.raises(ValidationFailed) as refused:
        invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    assert "otp_code" in refused.value.fields
    device = TOTPDevice.objects.create(user=customer, name="app", confirmed=True)
    with pytest.raises(ValidationFailed):
        invoice_pay_in_bank(
            invoice_id=invoice.id, payer=customer, account_id=wallet.pk, otp_code="000000"
        )
    device.refresh_from_db()
    device.throttle_reset()  # a failure throttles the device for a moment
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    page = Client()
    page.force_login(customer)
    assert "authenticator" in page.get(f"/i/{invoice.id}").content.decode()
    with pytest.raises(LimitExceeded, match="limit"):  # tier 0 may not send 0.02 BTC (~900 000 KZT)
        invoice_pay_in_bank(
            invoice_id=invoice.id, payer=customer, account_id=wallet.pk, otp_code=code
        )
    assert not invoice.payments.exists()


def test_tier_limits_apply(merchant: Merchant, customer: User, wallet: Account) -> None:
    from compliance.errors import LimitExceeded

    first = new_invoice(merchant, amount="0.00100000")  # ~45 000 KZT: within tier 0
    invoice_pay_in_bank(invoice_id=first.id, payer=customer, account_id=wallet.pk)
    second = new_invoice(merchant, amount="0.00100000")
    invoice_pay_in_bank(invoice_id=second.id, payer=customer, account_id=wallet.pk)
    third = new_invoice(merchant, amount="0.00100000")  # the day's 100 000 KZT is used up
    with pytest.raises(LimitExceeded):
        invoice_pay_in_bank(invoice_id=third.id, payer=customer, account_id=wallet.pk)
