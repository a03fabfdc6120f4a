"""End to end in a real browser (Debian's headless Chromium driven by playwright).

Sign up, confirm the email, enrol 2FA, get a deposit address, receive a regtest
deposit, verify identity, save a withdrawal address, withdraw with a 2FA code,
watch it confirm on chain, download a statement. Screenshots of the main pages
go to ``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connections
from django_otp.oath import TOTP

from accounts.models import Identity, User
from compliance.services import identity_approve
from custody.models import Withdrawal
from custody.node import node_client
from custody.services import (
    deposit_scan,
    wallet_load_or_create,
    withdrawal_approve,
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
)
from exchange.services import exchange_rate_set
from tests.conftest import CHROMIUM_ARGS, chromium_path
from tests.custody.conftest import chain_sync

pytestmark = [pytest.mark.browser, pytest.mark.node]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
PASSWORD = "Sunny-Almaty-2031"
EMAIL = "aigerim.e2e@example.kz"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def browser_page(live_server: Any) -> Iterator[Any]:
    chromium = chromium_path()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test itself
    # still talks to the database synchronously between browser steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1200, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # Database work done between browser steps ran on a connection of its own
            # (playwright's greenlet has its own context); close it before teardown.
            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def funder(bitcoind: str) -> Any:
    """The regtest node with the hot wallet and a funded ``funder`` wallet."""
    client = node_client()
    wallet_load_or_create(client=client, name=str(django_settings.CUSTODY_HOT_WALLET))
    wallet_load_or_create(client=client, name="funder")
    wallet = client.wallet("funder")
    mine_to = str(wallet.call("getnewaddress", "", "bech32"))
    if wallet.call("getbalance") < 1:
        client.call("generatetoaddress", 101, mine_to)
    return wallet, mine_to


class Codes:
    """TOTP codes for the enrolled key; each 30 s step may be used once."""

    def __init__(self, secret: str) -> None:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.totp = TOTP(key, step=30, t0=0, digits=6)
        self.last_t = -1

    def next(self) -> str:
        self.totp.time = time.time()
        self.totp.drift = 0
        now = self.totp.t()
        # A step already used: the device also accepts the next one (tolerance 1).
        self.totp.drift = max(0, self.last_t + 1 - now)
        self.last_t = now + self.totp.drift
        return f"{self.totp.token():06d}"


def shot(page: Any, name: str, *, full: bool = True) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def test_customer_journey(browser_page: Any, live_server: Any, funder: Any, settings: Any) -> None:
    settings.WITHDRAWAL_ADDRESS_COOLDOWN_S = 0
    settings.RATELIMIT_SIGNUP = "100/m"
    page, base = browser_page, live_server.url
    wallet, mine_to = funder

    # Sign up.
    page.goto(f"{base}/signup/")
    shot(page, "01-signup")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/signup/done/")

    # Confirm the email from the mail the bank sent.
    link = re.search(r"https?://\S+/confirm-email/\S+/", str(mail.outbox[-1].body))
    assert link, mail.outbox[-1].body
    page.goto(link.group(0))
    page.click("text=Confirm my email")
    page.wait_for_url(f"{base}/")
    assert "Your email is confirmed" in page.content()

    # Enrol 2FA: read the key shown for manual entry, compute the code.
    page.goto(f"{base}/security/2fa/setup/")
    shot(page, "02-2fa-setup")
    secret = page.inner_text("[data-testid=totp-secret]").replace(" ", "")
    codes = Codes(secret)
    page.fill("#id_otp_code", codes.next())
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=backup-codes]")
    backup = page.locator("[data-testid=backup-codes] code").all_inner_texts()
    assert len(backup) == 10
    shot(page, "03-backup-codes")

    # Deposit address, then a regtest payment to it, confirmed and scanned.
    page.goto(f"{base}/deposit/")
    page.click("text=Get my deposit address")
    address = page.inner_text("[data-testid=deposit-address]").strip()
    assert address.startswith("bcrt1")
    assert page.locator("figure.qr svg").count() == 1
    assert page.locator("a[href^='bitcoin:']").count() == 1
    wallet.call("sendtoaddress", address, "0.01000000")
    node_client().call("generatetoaddress", int(django_settings.DEPOSIT_CONFIRMATIONS), mine_to)
    chain_sync()
    deposit_scan()
    page.reload()
    assert "Credited" in page.inner_text("[data-testid=deposits]")
    shot(page, "04-deposit")
    page.goto(f"{base}/")
    assert "0.01000000 BTC" in page.content()
    shot(page, "05-dashboard")

    # Identity: submit on the page; a compliance officer approves it (tier 1).
    page.goto(f"{base}/identity/")
    page.fill("#id_full_name", "Aigerim Nurlanovna Sultanova")
    page.fill("#id_date_of_birth", "1990-05-15")
    page.fill("#id_iin", "900515401230")
    page.fill("#id_address", "Abai Avenue 10, apt 5, Almaty 050000")
    page.set_input_files(
        "#id_document", {"name": "id.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.click("text=Submit for review")
    assert "Submitted" in page.content()
    shot(page, "06-identity")
    officer = User.objects.create_superuser(email="officer@alatau.kz", password=PASSWORD)
    identity = Identity.objects.get(user__email=EMAIL)
    identity_approve(actor=officer, identity_id=identity.pk, tier=1)

    # Exchange some bitcoin for tenge at the bank's quote.
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=officer)
    page.goto(f"{base}/exchange/")
    page.check("input[name=direction][value=btc_kzt]")
    page.fill("#id_amount", "0.001")
    page.click("text=Get quote")
    page.wait_for_url(re.compile(r".*/exchange/quotes/\d+/$"))
    assert "44\u202f550.00 KZT" in page.content()  # 0.001 BTC at 44 550 000.00 (mid - 1%)
    shot(page, "07-exchange-quote")
    page.click("text=Exchange now")
    page.wait_for_url(f"{base}/")
    assert "44\u202f550.00 KZT" in page.content()

    # Save a withdrawal address (needs a code; backup code here), then withdraw.
    destination = str(wallet.call("getnewaddress", "", "bech32"))
    page.goto(f"{base}/addresses/")
    page.fill("#id_label", "My hardware wallet")
    page.fill("#id_address", destination)
    page.fill("#id_otp_code", backup[0])
    page.click("text=Save address")
    assert "Address saved" in page.content()
    page.goto(f"{base}/withdraw/")
    page.fill("#id_amount", "0.002")
    page.click("text=Continue")
    fee = int(django_settings.WITHDRAWAL_FEE_SATS)
    assert page.inner_text("[data-testid=withdraw-total]").startswith(f"0.{200_000 + fee:08d}")
    shot(page, "08-withdraw-confirm")
    page.fill("#id_otp_code", codes.next())
    page.click("main button.btn-primary")
    page.wait_for_url(re.compile(r".*/withdrawals/\d+/$"))
    withdrawal = Withdrawal.objects.get()
    if withdrawal.status == "pending_review":
        # Compliance rules may hold a first withdrawal for review: staff approve it.
        assert page.inner_text("[data-testid=withdrawal-status]") == "Pending review"
        withdrawal_approve(withdrawal_id=withdrawal.pk, actor=officer, reason="e2e: known customer")
        page.reload()
    assert page.inner_text("[data-testid=withdrawal-status]") == "Approved"

    # The custody jobs send it; one confirmation later the page says so.
    assert withdrawal_batch_create() is not None
    assert withdrawal_batch_broadcast() == 1
    node_client().call("generatetoaddress", int(django_settings.WITHDRAWAL_CONFIRMATIONS), mine_to)
    chain_sync()
    assert withdrawal_batch_confirm() == 1
    page.reload()
    assert page.inner_text("[data-testid=withdrawal-status]") == "Confirmed"
    assert Withdrawal.objects.get().status == "confirmed"
    shot(page, "09-withdrawal")

    # Statement: show it, download CSV and PDF.
    page.goto(f"{base}/statement/")
    btc_option = page.locator("#id_account option", has_text="BTC").get_attribute("value")
    page.select_option("#id_account", btc_option)
    page.click("text=Show")
    shot(page, "10-statement")
    with page.expect_download() as csv_download:
        page.click("text=Download CSV")
    csv_path = ARTIFACTS / "statement.csv"
    csv_download.value.save_as(str(csv_path))
    text = csv_path.read_text()
    assert "0.01000000" in text and "-0.00100000" in text and "Closing balance" in text
    with page.expect_download() as pdf_download:
        page.click("text=Download PDF")
    pdf_path = ARTIFACTS / "statement.pdf"
    pdf_download.value.save_as(str(pdf_path))
    assert pdf_path.read_bytes().startswith(b"%PDF-")

    # A phone-sized screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/")
    shot(page, "11-dashboard-phone")
    page.goto(f"{base}/transfers/new/")
    shot(page, "12-transfer-phone")

    # Log out; the login page sends a customer back to where they were going.
    page.set_viewport_size({"width": 1200, "height": 900})
    page.click("text=Log out")
    page.goto(f"{base}/statement/")
    page.wait_for_url(re.compile(r".*/login/\?next=/statement/$"))
    shot(page, "13-login")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/verify/")
    page.fill("#id_otp_code", codes.next())
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/statement/")
