"""The merchant door in a real browser (Debian's Chromium driven by playwright).

A shop owner rings up sales on the till; one customer pays in-bank from web
banking, another pays on-chain on the regtest node; the till follows each to
settled. Then the dashboard, the CSV export (checked against the ledger) and
a payment link paid by a customer. Screenshots at desktop, tablet and 390 px
go to ``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from django.conf import settings as django_settings
from django.db import connections
from django.utils import timezone
from PIL import Image

from accounts.models import Account, Transfer, User
from banking.services.signup import user_signup
from custody.models import ChainCursor
from custody.node import node_client
from custody.services import deposit_scan, wallet_load_or_create
from custody.services.deposits import CURSOR_NAME
from merchants.models import Invoice, Merchant, PaymentRequest
from merchants.services.merchants import merchant_onboard
from tests.conftest import fund, rate_feed

pytestmark = [pytest.mark.browser, pytest.mark.node]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]  # fmt: skip
PASSWORD = "Sunny-Almaty-2031"
PHONE: Any = {"width": 390, "height": 844}
TABLET: Any = {"width": 820, "height": 1180}
DESKTOP: Any = {"width": 1200, "height": 900}


@pytest.fixture
def new_page(live_server: Any) -> Iterator[Callable[[], Any]]:
    """Open pages in separate browser contexts (the shop's tablet, a customer's phone)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: run scripts/ensure-chromium.sh")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts: list[Any] = []

        def make(viewport: Any = DESKTOP) -> Any:
            context = browser.new_context(viewport=viewport, accept_downloads=True)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(20_000)
            return page

        try:
            yield make
        finally:
            for context in contexts:
                context.close()
            browser.close()
            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def chain(bitcoind: str, db: None, settings: Any) -> Any:
    """The regtest node: the hot wallet, a funded ``funder`` wallet, the scan cursor at the tip."""
    settings.MERCHANT_INVOICE_ONCHAIN = True
    client = node_client()
    wallet_load_or_create(client=client, name=str(django_settings.CUSTODY_HOT_WALLET))
    wallet_load_or_create(client=client, name="funder")
    wallet = client.wallet("funder")
    mine_to = str(wallet.call("getnewaddress", "", "bech32"))
    if wallet.call("getbalance") < 1:
        client.call("generatetoaddress", 101, mine_to)
    tip = str(client.call("getbestblockhash"))
    ChainCursor.objects.update_or_create(name=CURSOR_NAME, defaults={"block_hash": tip})
    return wallet, mine_to


@pytest.fixture
def shop(db: None) -> Merchant:
    owner = user_signup(email="owner@coffee.kz", password=PASSWORD)
    User.objects.create_user(email="dealer@alatau.kz", password=PASSWORD, is_staff=True)
    rate_feed(45_000_000_00, 100)
    return merchant_onboard(name="Alatau Coffee", owner=owner, actor=None)


@pytest.fixture
def customer(db: None) -> User:
    user = user_signup(email="aigerim@example.kz", password=PASSWORD)
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    fund(Account.objects.get(owner=user, kind="customer", currency="BTC"), 5_000_000)
    return user


def qr_texts(page: Any, selector: str) -> list[str]:
    """Decode every QR code in the element, from a screenshot as a phone camera would see it."""
    image = Image.open(io.BytesIO(page.locator(selector).screenshot()))
    return [code.text for code in zxingcpp.read_barcodes(image)]


def shot(page: Any, name: str, *, full: bool = True) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def log_in(page: Any, base: str, email: str, then: str = "/") -> None:
    page.goto(f"{base}/login/?next={then}")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(".*" + re.escape(then) + "$"))


def ring_up(page: Any, base: str, keys: str, currency: str = "KZT") -> str:
    """Type an amount on the till's keypad and charge it; return the invoice id."""
    page.goto(f"{base}/merchant/pos/")
    page.check(f"input[name=currency][value={currency}]")
    for key in keys:
        page.click(f".keypad button[data-key='{key}']")
    shot(page, f"merchant-till-{currency.lower()}-{page.viewport_size['width']}px")
    page.click("[data-testid=till-charge]")
    page.wait_for_url(re.compile(r".*/merchant/pos/[1-9A-HJ-NP-Za-km-z]+/$"))
    return page.url.rstrip("/").rsplit("/", 1)[1]


def _till_on_chain(till: Any, base: str, wallet: Any, mine_to: str) -> str:
    """Ring up 0.001 BTC and pay it on the regtest node; return the invoice id."""
    # On-chain: 0.001 BTC; the payer's wallet pays the address on the regtest node.
    till.set_viewport_size(PHONE)
    chain_id = ring_up(till, base, "0.001", currency="BTC")
    address = till.inner_text("[data-testid=charge-address]").strip()
    assert address.startswith("bcrt1")
    shot(till, "merchant-06-charge-phone")
    wallet.call("sendtoaddress", address, "0.00100000")
    node_client().call("syncwithvalidationinterfacequeue")
    deposit_scan()
    till.wait_for_selector("#step-seen.done")
    assert till.inner_text("[data-testid=charge-stage]") == "Payment seen"
    shot(till, "merchant-07-payment-seen-phone")
    node_client().call("generatetoaddress", 1, mine_to)
    node_client().call("syncwithvalidationinterfacequeue")
    deposit_scan()
    till.wait_for_selector("#step-settled.done")
    assert till.inner_text("[data-testid=charge-stage]") == "Paid"
    shot(till, "merchant-08-charge-settled-phone")
    return chain_id


def test_till_in_bank_and_on_chain_to_settled(
    new_page: Callable[..., Any], live_server: Any, shop: Merchant, customer: User, chain: Any
) -> None:
    base = live_server.url
    wallet, mine_to = chain
    till = new_page(TABLET)
    log_in(till, base, "owner@coffee.kz", "/merchant/")
    assert "Alatau Coffee" in till.inner_text("[data-testid=nav-shop]")

    # In-bank: 2 500 KZT on the keypad with one item, a customer pays from her phone.
    till.goto(f"{base}/merchant/pos/")
    for key in "1500":
        till.click(f".keypad button[data-key='{key}']")
    till.click("#till-items summary")
    till.fill("#item-name", "Latte")
    till.click("[data-testid=item-add]")
    for key in "1000":
        till.click(f".keypad button[data-key='{key}']")
    assert "2500.00 KZT" in till.inner_text("#till-total")
    shot(till, "merchant-01-till-tablet")
    till.click("[data-testid=till-charge]")
    till.wait_for_url(re.compile(r".*/merchant/pos/\w+/$"))
    invoice_id = till.url.rstrip("/").rsplit("/", 1)[1]
    invoice = Invoice.objects.get(pk=invoice_id)
    assert (invoice.currency, invoice.amount_minor) == ("KZT", 250_000)
    assert till.locator("[data-testid=qr-chain] svg[viewBox]").count() == 1
    assert till.inner_text("[data-testid=charge-stage]") == "Waiting for payment"
    shot(till, "merchant-02-charge-tablet")
    link = till.get_attribute("[data-testid=open-in-alatau]", "href")
    assert link is not None and link.endswith(f"/i/{invoice_id}")
    # Both QR codes decode: BIP21 for any wallet, the checkout link for Alatau customers.
    assert qr_texts(till, "[data-testid=qr-alatau]") == [link]
    (bip21,) = qr_texts(till, "[data-testid=qr-chain]")
    assert bip21.startswith(f"bitcoin:{invoice.destination}?amount=0.00005556")

    phone = new_page(PHONE)
    log_in(phone, base, "aigerim@example.kz", f"/i/{invoice_id}")
    shot(phone, "merchant-03-checkout-phone")
    assert qr_texts(phone, "[data-testid=qr]") == [bip21]
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the checkout is {width}px wide at 390 px"
    phone.click("[data-testid=pay-in-bank]")
    phone.wait_for_selector("[data-testid=thanks]")
    # The till polls its status endpoint and ticks every step by itself.
    till.wait_for_selector("#step-settled.done")
    assert till.inner_text("[data-testid=charge-stage]") == "Paid"
    assert till.locator("#step-seen.done").count() == 1
    shot(till, "merchant-04-charge-paid-tablet")
    till.click("[data-testid=receipt-link]")
    assert "2\u202f500.00 KZT" in till.inner_text("[data-testid=receipt-total]")
    assert "Latte" in till.inner_text("[data-testid=receipt]")
    shot(till, "merchant-05-receipt")

    chain_id = _till_on_chain(till, base, wallet, mine_to)
    assert Invoice.objects.get(pk=chain_id).status == "Settled"
    shop.btc_account.refresh_from_db()
    assert shop.btc_account.posted_minor == invoice.amount_sats + 100_000


def _check_csv(owner: Any, base: str, invoice: Invoice, shop: Merchant) -> None:
    sats = invoice.amount_sats
    # The CSV, checked against the ledger transfer that credited the shop.
    owner.goto(f"{base}/merchant/invoices/")
    with owner.expect_download() as download:
        owner.click("[data-testid=csv-link]")
    path = ARTIFACTS / "merchant-invoices.csv"
    download.value.save_as(str(path))
    rows = list(csv.DictReader(path.open()))
    assert [r["invoice_id"] for r in rows] == [invoice.id]
    row = rows[0]
    transfer = Transfer.objects.get(pk=int(row["ledger_transfer_id"]))
    assert (transfer.credit_account_id, transfer.amount_minor) == (shop.btc_account_id, sats)
    assert int(row["amount_btc"].replace(".", "")) == sats
    assert row["rate_kzt_per_btc"] == "45000000.00"
    assert int(row["value_kzt"].replace(".", "")) == sats * 45_000_000_00 // 100_000_000
    assert (row["currency"], row["amount"]) == ("KZT", "9000.00")


def _check_keys(owner: Any, base: str) -> None:
    # An API key: shown once with a copy button; revoking asks first.
    owner.goto(f"{base}/merchant/keys/")
    owner.fill("#id_label", "web shop")
    owner.check("input[name=scopes][value='btcpay.store.canviewinvoices']")
    owner.click("main form button[type=submit]")
    owner.wait_for_selector("[data-testid=new-token]")
    assert owner.locator("[data-testid=copy-token]").count() == 1
    assert "View invoices" in owner.inner_text("[data-testid=keys]")
    shot(owner, "merchant-16-key-created")
    owner.click("[data-testid=revoke]")
    owner.wait_for_selector("[data-testid=revoke-confirm]")
    shot(owner, "merchant-17-key-revoke-asks")
    owner.click("[data-testid=revoke-confirm]")
    owner.wait_for_url(f"{base}/merchant/keys/")
    assert "revoked" in owner.inner_text("[data-testid=keys]")


def test_dashboard_csv_and_payment_link(
    new_page: Callable[..., Any], live_server: Any, shop: Merchant, customer: User
) -> None:
    base = live_server.url
    owner = new_page(DESKTOP)
    log_in(owner, base, "owner@coffee.kz", "/merchant/")

    # A payment link: the shop makes it, a customer opens it and pays in-bank.
    owner.goto(f"{base}/merchant/requests/")
    owner.fill("#id_title", "Catering for Friday")
    owner.select_option("#id_currency", "KZT")
    owner.fill("#id_amount", "9000")
    owner.fill("#id_description", "Lunch for 12, delivered at noon")
    owner.click("[data-testid=request-form] button[type=submit]")
    owner.wait_for_selector("[data-testid=public-link]")
    shot(owner, "merchant-09-payment-link")
    public_url = owner.inner_text("[data-testid=public-link]").strip()
    pr = PaymentRequest.objects.get()
    assert public_url.endswith(f"/r/{pr.id}")

    phone = new_page(PHONE)
    phone.goto(public_url)
    assert "9\u202f000.00 KZT" in phone.inner_text("[data-testid=request-amount]")
    shot(phone, "merchant-10-payment-link-public-phone")
    log_in(phone, base, "aigerim@example.kz", f"/r/{pr.id}")
    phone.click("[data-testid=request-pay]")
    phone.wait_for_url(re.compile(r".*/i/\w+$"))
    shot(phone, "merchant-11-link-checkout-phone")
    phone.click("[data-testid=pay-in-bank]")
    phone.wait_for_selector("[data-testid=thanks]")
    phone.goto(public_url)
    assert phone.inner_text("[data-testid=request-status]") == "Paid"

    # The dashboard: store balance with its KZT value, today's takings, the invoice.
    owner.goto(f"{base}/merchant/")
    invoice = Invoice.objects.get()
    sats = invoice.amount_sats
    btc_text = f"{Decimal(sats) / 100_000_000:.8f} BTC"
    assert owner.inner_text("[data-testid=balance-BTC]") == btc_text
    assert btc_text in owner.inner_text("[data-testid=takings-today]")
    assert invoice.id in owner.inner_text("[data-testid=invoice-table]")
    shot(owner, "merchant-12-dashboard")
    owner.set_viewport_size(PHONE)
    owner.reload()
    shot(owner, "merchant-13-dashboard-phone")
    owner.goto(f"{base}/merchant/invoices/{invoice.id}/")
    shot(owner, "merchant-14-invoice-phone")
    owner.set_viewport_size(DESKTOP)

    _check_csv(owner, base, invoice, shop)
    _check_keys(owner, base)

    # The other merchant pages render and fit.
    for name, url in (("payouts", "/merchant/payouts/"), ("webhooks", "/merchant/webhooks/"),
                      ("keys", "/merchant/keys/")):  # fmt: skip
        owner.set_viewport_size(PHONE)
        owner.goto(f"{base}{url}")
        shot(owner, f"merchant-15-{name}-phone")
        width = owner.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{url} is {width}px wide at 390 px"


def test_refund_of_a_kzt_settled_invoice_from_its_page(
    new_page: Callable[..., Any], live_server: Any, shop: Merchant, customer: User
) -> None:
    from accounts.selectors import ledger_check
    from merchants.models import RefundKztExchange
    from merchants.services.invoices import invoice_create
    from merchants.services.payments import invoice_pay_in_bank
    from merchants.services.settlement import merchant_set_settle_to_kzt
    from tests.banking.conftest import enable_2fa, otp_code

    merchant_set_settle_to_kzt(merchant=shop, enabled=True, actor=shop.owner)
    invoice = invoice_create(merchant=shop, amount="1000.00", currency="KZT")
    wallet = Account.objects.get(owner=customer, kind="customer", currency="BTC")
    invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    base = live_server.url
    owner = new_page(PHONE)
    log_in(owner, base, "owner@coffee.kz", "/merchant/")
    enable_2fa(shop.owner)
    owner.goto(f"{base}/merchant/invoices/{invoice.id}/")
    assert "1\u202f000.00 KZT" in owner.inner_text("[data-testid=kzt-settlement]")
    owner.check("input[name=method][value=InBank]")
    owner.fill("#id_amount", "0.00001000")
    owner.fill("#id_otp_code", otp_code(shop.owner))
    owner.click("[data-testid=refund-form] button[type=submit]")
    owner.wait_for_selector("[data-testid=refund-kzt]")
    # 1000 sats bought back at the ask, 45 450 000.00 KZT/BTC: 454.50 KZT.
    assert "454.50" in owner.inner_text("[data-testid=refund-kzt]")
    shot(owner, "merchant-16-kzt-refund-phone")
    width = owner.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the invoice page is {width}px wide at 390 px"
    assert RefundKztExchange.objects.get().kzt_tiyn == 45_450
    assert ledger_check() == []
