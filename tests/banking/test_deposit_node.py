"""The deposit page against the regtest node: address, QR code, BIP21, confirmations."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from custody.models import ChainCursor
from custody.node import node_client
from custody.services import deposit_scan, wallet_load_or_create
from custody.services.deposits import CURSOR_NAME
from tests.banking.conftest import account_of
from tests.custody.conftest import chain_sync

pytestmark = pytest.mark.node


@pytest.fixture
def funder(bitcoind: str, db: None) -> tuple[Any, str]:
    client = node_client()
    wallet_load_or_create(client=client, name=str(settings.CUSTODY_HOT_WALLET))
    wallet_load_or_create(client=client, name="funder")
    wallet = client.wallet("funder")
    mine_to = str(wallet.call("getnewaddress", "", "bech32"))
    if wallet.call("getbalance") < 1:
        client.call("generatetoaddress", 101, mine_to)
    # Scan from the tip: outputs of earlier tests are not this test's business.
    tip = str(client.call("getbestblockhash"))
    ChainCursor.objects.update_or_create(name=CURSOR_NAME, defaults={"block_hash": tip})
    return wallet, mine_to


def test_deposit_page_shows_address_qr_bip21_and_confirmations(
    customer: User, customer_client: Client, funder: tuple[Any, str]
) -> None:
    wallet, mine_to = funder
    assert customer_client.post("/deposit/").status_code == 302
    page = customer_client.get("/deposit/")
    address = page.context["address"].address
    html = page.content.decode()
    assert address.startswith("bcrt1") and address in html
    assert f'href="bitcoin:{address}"' in html
    assert "<svg" in html
    wallet.call("sendtoaddress", address, "0.00250000")
    node_client().call("generatetoaddress", 1, mine_to)
    chain_sync()
    deposit_scan()
    html = customer_client.get("/deposit/").content.decode()
    needed = int(settings.DEPOSIT_CONFIRMATIONS)
    assert f"1 of {needed}" in html and "Waiting for confirmations" in html
    assert account_of(customer, "BTC").posted_minor == 0
    node_client().call("generatetoaddress", needed - 1, mine_to)
    chain_sync()
    deposit_scan()
    html = customer_client.get("/deposit/").content.decode()
    assert "Credited" in html
    assert account_of(customer, "BTC").posted_minor == 250_000
    assert "0.00250000 BTC" in customer_client.get("/").content.decode()
    # The dashboard shows the deposit address too.
    assert address in customer_client.get("/").content.decode()
