"""On-chain invoice payment on the regtest node, through custody's scanner, to Settled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.selectors import ledger_check
from custody.node import node_client
from custody.services import deposit_scan, wallet_load_or_create
from merchants.models import Invoice, Merchant
from tests.custody.conftest import Chain, chain, scan_from_tip  # noqa: F401 - fixtures
from tests.merchants.conftest import Greenfield, Receiver, store_url

pytestmark = [pytest.mark.node, pytest.mark.usefixtures("scan_from_tip")]

SCHEMAS = {
    "InvoiceCreated": "WebhookInvoiceEvent",
    "InvoiceReceivedPayment": "WebhookInvoiceReceivedPaymentEvent",
    "InvoicePaymentSettled": "WebhookInvoicePaymentSettledEvent",
    "InvoiceProcessing": "WebhookInvoiceProcessingEvent",
    "InvoiceSettled": "WebhookInvoiceSettledEvent",
}


def test_onchain_payment_settles_after_the_speed_policy(
    chain: Chain,  # noqa: F811 - the fixture imported above
    api: APIClient,
    merchant: Merchant,
    receiver: Receiver,
    greenfield: Greenfield,
    settings: Any,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MERCHANT_INVOICE_ONCHAIN = True
    # Invoice addresses come from the hot wallet named in settings: make sure it is loaded.
    wallet_load_or_create(client=node_client(), name=str(settings.CUSTODY_HOT_WALLET))
    api.post(store_url(merchant, "webhooks"), {"url": receiver.url}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            store_url(merchant, "invoices"),
            {"amount": "0.00250000", "checkout": {"speedPolicy": "MediumSpeed"}},
            format="json",
        ).json()
    methods = api.get(store_url(merchant, f"invoices/{created['id']}/payment-methods")).json()
    chain_method = methods[0]
    greenfield.validate(chain_method, "InvoicePaymentMethodDataModel")
    address = chain_method["destination"]
    assert address.startswith("bcrt1")
    assert chain_method["paymentLink"].startswith(f"bitcoin:{address}?amount=0.0025")

    with django_capture_on_commit_callbacks(execute=True):
        chain.send(address, 250_000)
        deposit_scan()
    invoice = Invoice.objects.get(pk=created["id"])
    assert (invoice.status, invoice.paid_sats) == ("Processing", 250_000)
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.posted_minor == 0  # not yet: one confirmation needed

    with django_capture_on_commit_callbacks(execute=True):
        chain.mine(1)
        chain.client.call("syncwithvalidationinterfacequeue")
        deposit_scan()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.additional_status) == ("Settled", "None")
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.posted_minor == 250_000  # credited by custody's scanner
    assert ledger_check() == []

    body = api.get(store_url(merchant, f"invoices/{created['id']}")).json()
    greenfield.validate(body, "InvoiceData")
    assert body["status"] == "Settled" and body["paidAmount"] == "0.00250000"
    types = [json.loads(r["body"])["type"] for r in receiver.requests]
    assert types == [
        "InvoiceCreated",
        "InvoiceReceivedPayment",
        "InvoiceProcessing",
        "InvoicePaymentSettled",
        "InvoiceSettled",
    ]
    for request in receiver.requests:
        event = json.loads(request["body"])
        greenfield.validate(event, SCHEMAS[event["type"]])


def test_server_info_and_health_report_the_node(
    chain: Chain,  # noqa: F811 - the fixture imported above
    api: APIClient,
    greenfield: Greenfield,
) -> None:
    tip = node_client().call("getblockchaininfo")
    info = api.get("/api/v1/server/info").json()
    greenfield.validate(info, "ApplicationServerInfoData")
    sync = info["syncStatus"][0]
    assert sync["paymentMethodId"] == "BTC-CHAIN"
    assert sync["nodeInformation"]["blocks"] >= tip["blocks"]
    assert sync["nodeInformation"]["headers"] >= tip["headers"]
    assert info["fullySynched"] is sync["available"] is True
    assert APIClient().get("/api/v1/health").json() == {"synchronized": True}
