"""On-chain invoice money on the regtest node: 0-conf held, listeners retried, sanctions.

The node's wallet learns of a mempool transaction asynchronously: every scan after a
send waits with ``syncwithvalidationinterfacequeue``, never a sleep.
"""

from __future__ import annotations

from typing import Any

import pytest
from embit import bech32
from rest_framework.test import APIClient

from accounts.selectors import ledger_check
from custody.models import Deposit, DepositAddress, ListenerCall
from custody.node import btc, node_client
from custody.services import deposit_scan, wallet_load_or_create
from custody.services.listeners import listeners_run
from merchants.models import Invoice, Merchant, Payout, Refund, WebhookDelivery
from merchants.services.invoices import invoice_create
from merchants.services.payments import invoice_deposit_listener
from merchants.services.refunds import invoice_refund
from merchants.services.webhooks import webhook_create
from tests.custody.conftest import Chain, chain, scan_from_tip  # noqa: F401 - fixtures
from tests.merchants.conftest import Receiver, allow_list, store_url

pytestmark = [pytest.mark.node, pytest.mark.usefixtures("scan_from_tip")]

ADDRESS = bech32.encode("bcrt", 0, bytes(range(20)))


@pytest.fixture
def onchain(settings: Any, chain: Chain) -> Chain:  # noqa: F811
    settings.MERCHANT_INVOICE_ONCHAIN = True
    wallet_load_or_create(client=node_client(), name=str(settings.CUSTODY_HOT_WALLET))
    return chain


def _pay(chain: Chain, merchant: Merchant, speed: str, sats: int = 250_000) -> Invoice:  # noqa: F811
    invoice = invoice_create(merchant=merchant, amount=btc(sats), currency="BTC",
                             checkout={"speedPolicy": speed})  # fmt: skip
    address = _address(invoice)
    chain.funder.send_to_address(address, sats)
    chain.client.call("syncwithvalidationinterfacequeue")  # the hot wallet saw it
    return invoice


def _address(invoice: Invoice) -> str:
    return DepositAddress.objects.get(pk=int(invoice.deposit_address_id or 0)).address


def _settled_events(invoice: Invoice) -> int:
    return WebhookDelivery.objects.filter(invoice=invoice, event_type="InvoiceSettled").count()


@pytest.mark.insider
def test_merchant_key_cannot_pay_out_zero_conf_money(
    onchain: Chain, api: APIClient, merchant: Merchant,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    invoice = _pay(onchain, merchant, "HighSpeed")
    with django_capture_on_commit_callbacks(execute=True):
        deposit_scan()
    invoice.refresh_from_db()
    assert invoice.status == "Settled"  # the HighSpeed policy shows it Settled at 0 conf
    account = merchant.btc_account
    account.refresh_from_db()
    assert (account.posted_minor, account.available_minor) == (250_000, 0)  # pending
    allow_list(merchant, ADDRESS)  # a listed address: the pending money is what stops it
    payout = api.post(store_url(merchant, "payouts"),
                      {"amount": "0.00100000", "destination": ADDRESS, "approved": True}, format="json")  # fmt: skip
    assert payout.status_code == 422, payout.content
    (problem,) = payout.json()  # BTCPay's 422: a list of problems
    assert problem["code"] == "funds-unconfirmed"
    assert "until the deposits confirm" in problem["message"]
    convert = api.post(store_url(merchant, "conversions"), {"amount": "0.00100000"}, format="json")
    assert (convert.status_code, convert.json()[0]["code"]) == (422, "funds-unconfirmed")
    from merchants.errors import FundsUnconfirmed

    with pytest.raises(FundsUnconfirmed):
        invoice_refund(merchant=merchant, invoice_id=invoice.id, method="OnChain",
                       amount_sats=100_000, address=ADDRESS, actor=merchant.owner)  # fmt: skip
    assert not Payout.objects.exists() and not Refund.objects.exists()  # nothing moved
    account.refresh_from_db()
    assert (account.posted_minor, account.held_minor) == (250_000, 250_000)

    onchain.mine(1)
    onchain.client.call("syncwithvalidationinterfacequeue")
    assert deposit_scan().released == 1
    account.refresh_from_db()
    assert account.available_minor == 250_000  # spendable once confirmed
    allow_list(merchant, ADDRESS)
    payout = api.post(store_url(merchant, "payouts"),
                      {"amount": "0.00100000", "destination": ADDRESS, "approved": True}, format="json")  # fmt: skip
    assert payout.status_code == 200, payout.content
    assert ledger_check() == []


calls: list[int] = []


def flaky_listener(deposit: Deposit) -> None:
    """Fails the first time (e.g. the invoice row was busy), then does its job."""
    calls.append(deposit.pk)
    if len(calls) == 1:
        raise RuntimeError("listener failed once")
    invoice_deposit_listener(deposit)


@pytest.mark.faults
def test_failed_listener_is_retried_and_settles_once(
    onchain: Chain, merchant: Merchant, settings: Any, receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.CUSTODY_DEPOSIT_LISTENERS = [f"{__name__}.flaky_listener"]
    webhook_create(merchant=merchant, url=receiver.url, secret=None,
                   actor=merchant.owner)  # fmt: skip
    calls.clear()
    invoice = _pay(onchain, merchant, "MediumSpeed")
    with django_capture_on_commit_callbacks(execute=True):
        deposit_scan()  # recorded at 0 confirmations; the listener fails
    invoice.refresh_from_db()
    assert invoice.status == "New" and len(calls) == 1
    owed = ListenerCall.objects.get()
    assert owed.attempts == 1 and "failed once" in owed.last_error
    assert listeners_run() == 0  # backing off: not due yet
    ListenerCall.objects.update(next_at=owed.created_at)  # the backoff has passed
    with django_capture_on_commit_callbacks(execute=True):
        assert listeners_run() == 1  # the periodic task retries it
    invoice.refresh_from_db()
    assert invoice.status == "Processing" and not ListenerCall.objects.exists()

    onchain.mine(1)
    onchain.client.call("syncwithvalidationinterfacequeue")
    with django_capture_on_commit_callbacks(execute=True):
        deposit_scan()  # credited: the listener is owed a call again and succeeds
    invoice.refresh_from_db()
    assert invoice.status == "Settled" and _settled_events(invoice) == 1
    assert not ListenerCall.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert listeners_run() == 0
        deposit_scan()
    assert _settled_events(invoice) == 1  # settled once
    assert ledger_check() == []


def test_sanctioned_payment_is_never_settled(
    onchain: Chain, merchant: Merchant, django_capture_on_commit_callbacks: Any
) -> None:
    from compliance.models import SanctionedAddress

    wallet_load_or_create(client=node_client(), name="sanctioned-payer")
    payer = node_client().wallet("sanctioned-payer")
    dirty = payer.call("getnewaddress", "", "bech32")
    onchain.funder.send_to_address(dirty, 400_000)
    onchain.mine(1)
    SanctionedAddress.objects.create(address=dirty, source="test list")
    invoice = invoice_create(merchant=merchant, amount="0.00200000", currency="BTC",
                             checkout={"speedPolicy": "MediumSpeed"})  # fmt: skip
    payer.call("sendtoaddress", _address(invoice), btc(200_000))
    onchain.mine(2)
    onchain.client.call("syncwithvalidationinterfacequeue")
    with django_capture_on_commit_callbacks(execute=True):
        deposit_scan()
    deposit = Deposit.objects.get(address=_address(invoice))
    assert (deposit.status, deposit.suspense_reason) == ("suspense", "sanctioned_source")
    invoice.refresh_from_db()
    assert invoice.status == "Processing"  # received, never Settled while sanctioned
    assert invoice.payments.get().status == "Processing"
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.posted_minor == 0
    assert ledger_check() == []
