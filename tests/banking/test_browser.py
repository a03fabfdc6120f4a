"""End to end in a real browser (Debian's headless Chromium driven by playwright).

In Kazakh, Russian and English: sign up, confirm the email, enrol 2FA (its QR code
must decode), get a deposit address (its QR code too), receive a regtest deposit,
verify identity, exchange, save a withdrawal address, withdraw with a 2FA code,
watch it confirm on chain, download a statement, check one's own inclusion in the
proof of reserves in the browser. Screenshots of the main pages, at desktop and
390 px phone width, go to ``tests/artifacts/screenshots/<language>-*.png``.
The expected texts come from the catalogs (``gettext`` in the page's language).
"""

from __future__ import annotations

import base64
import io
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connections
from django.utils import translation
from django_otp.oath import TOTP
from PIL import Image

from accounts.models import Identity, User
from banking.templatetags.bank import money
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
from notifications.services import notifications_collect
from tests.conftest import CHROMIUM_ARGS, chromium_path
from tests.custody.conftest import chain_sync
from treasury.services.reserves import reserves_snapshot

pytestmark = [pytest.mark.browser, pytest.mark.node]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
PASSWORD = "Sunny-Almaty-2031"
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


def phone_shot(page: Any, name: str) -> None:
    """Screenshot the page as a 390 px wide phone sees it, then go back to desktop size."""
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1200, "height": 900})


def qr_text(page: Any, selector: str) -> str:
    """Decode the QR code the page shows in ``selector`` from a screenshot of it."""
    import zxingcpp

    png = page.locator(selector).screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found, f"no QR code could be read in {selector}"
    return str(found[0].text)


class Words:
    """The page's words in one language, straight from the catalogs."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, text: str, context: str = "") -> str:
        with translation.override(self.language):
            if context:
                return translation.pgettext(context, text)
            return translation.gettext(text)

    def money(self, minor: int, currency: str) -> str:
        with translation.override(self.language):
            return money(minor, currency)


@dataclass(frozen=True)
class Journey:
    """What every step of the customer journey uses."""

    page: Any
    base: str
    t: Any
    prefix: str
    email: str
    wallet: Any
    mine_to: str
    language: str


def _journey_sign_up(j: Journey) -> tuple[Codes, list[str]]:
    """Sign up in the language, confirm the email, log in, enrol 2FA."""
    page = j.page
    base = j.base
    t = j.t
    prefix = j.prefix
    email = j.email
    language = j.language
    # The signed-out page offers the three languages; choose this one.
    page.goto(f"{base}/signup/")
    page.click(f"form.langs button[value={language}]")
    page.wait_for_selector(f"html[lang={language}]")
    assert t("Open your Alatau account") in page.content()
    shot(page, prefix + "01-signup")
    phone_shot(page, prefix + "01-signup")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/signup/done/")

    # Confirm the email from the mail the bank sent, then log in.
    link = re.search(r"https?://\S+/confirm-email/\S+/", str(mail.outbox[-1].body))
    assert link, mail.outbox[-1].body
    page.goto(link.group(0))
    page.click(f"main button:has-text('{t('Confirm my email')}')")
    page.wait_for_url(re.compile(r".*/login/$"))
    assert t("Your email is confirmed. Welcome to Alatau Bank.") in page.content()
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")

    # Enrol 2FA: the QR code decodes to the key shown for manual entry.
    page.goto(f"{base}/security/2fa/setup/")
    shot(page, prefix + "02-2fa-setup")
    phone_shot(page, prefix + "02-2fa-setup")
    secret = page.inner_text("[data-testid=totp-secret]").replace(" ", "")
    uri = qr_text(page, "[data-testid=totp-qr]")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    codes = Codes(secret)
    page.fill("#id_otp_code", codes.next())
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=backup-codes]")
    backup = page.locator("[data-testid=backup-codes] code").all_inner_texts()
    assert len(backup) == 10
    shot(page, prefix + "03-backup-codes")

    return codes, backup


def _journey_deposit(j: Journey) -> None:
    """A deposit on the regtest node, shown as it confirms."""
    page = j.page
    base = j.base
    t = j.t
    prefix = j.prefix
    wallet = j.wallet
    mine_to = j.mine_to
    # Deposit address (its QR decodes to it), then a regtest payment, confirmed and scanned.
    page.goto(f"{base}/deposit/")
    page.click(f"main button:has-text('{t('Get my deposit address')}')")
    address = page.inner_text("[data-testid=deposit-address]").strip()
    assert address.startswith("bcrt1")
    assert qr_text(page, "[data-testid=deposit-qr]").lower().startswith(f"bitcoin:{address}")
    assert page.locator("a[href^='bitcoin:']").count() == 1
    wallet.call("sendtoaddress", address, "0.01000000")
    node_client().call("generatetoaddress", 1, mine_to)
    chain_sync()
    deposit_scan()
    # The page updates itself as confirmations arrive (no reload).
    needed = int(django_settings.DEPOSIT_CONFIRMATIONS)
    waiting = t("Waiting for confirmations", "status")
    page.wait_for_function(
        "text => document.querySelector('[data-testid=deposits]').innerText.includes(text)",
        arg=waiting,
        timeout=40_000,
    )
    shot(page, prefix + "04-deposit-pending")
    node_client().call("generatetoaddress", needed - 1, mine_to)
    chain_sync()
    deposit_scan()
    page.wait_for_function(
        "text => document.querySelector('[data-testid=deposits]').innerText.includes(text)",
        arg=t("Credited", "status"),
        timeout=40_000,
    )
    shot(page, prefix + "04-deposit")
    phone_shot(page, prefix + "04-deposit")
    page.goto(f"{base}/")
    assert t.money(1_000_000, "BTC") in page.content()
    assert "KZT" in page.inner_text("[data-testid=btc-kzt]")
    shot(page, prefix + "05-dashboard")
    phone_shot(page, prefix + "05-dashboard")


def _journey_identity_exchange(j: Journey) -> User:
    """Identity approved by an officer; an exchange."""
    page = j.page
    base = j.base
    t = j.t
    prefix = j.prefix
    email = j.email
    # Identity: submit on the page; a compliance officer approves it (tier 1).
    page.goto(f"{base}/identity/")
    page.fill("#id_full_name", "Aigerim Nurlanovna Sultanova")
    page.fill("#id_date_of_birth", "1990-05-15")
    page.fill("#id_iin", "900515401230")
    page.fill("#id_address", "Abai Avenue 10, apt 5, Almaty 050000")
    page.set_input_files(
        "#id_document", {"name": "id.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.click(f"main button:has-text('{t('Submit for review')}')")
    assert t("Submitted", "status") in page.content()
    shot(page, prefix + "06-identity")
    officer = User.objects.create_superuser(email="officer@alatau.kz", password=PASSWORD)
    identity = Identity.objects.get(user__email=email)
    identity_approve(actor=officer, identity_id=identity.pk, tier=1)

    # Exchange some bitcoin for tenge; the countdown moves.
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=officer)
    page.goto(f"{base}/exchange/")
    page.check("input[name=direction][value=btc_kzt]")
    page.fill("#id_amount", "0.001")
    page.click(f"main button:has-text('{t('Get quote')}')")
    page.wait_for_url(re.compile(r".*/exchange/quotes/\d+/$"))
    quoted = t.money(44_550_00, "KZT")  # 0.001 BTC at 44 550 000.00 (mid - 1%)
    assert quoted in page.content()
    first = int(page.inner_text("[data-countdown-left]"))
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-countdown-left]').innerText) < {first}"
    )
    shot(page, prefix + "07-exchange-quote")
    page.click(f"main button:has-text('{t('Exchange now')}')")
    page.wait_for_url(f"{base}/")
    assert quoted in page.content()

    return officer


def _journey_withdraw(j: Journey, codes: Codes, backup: list[str], officer: User) -> None:
    """Save an address, withdraw with a code, watch it confirm."""
    page = j.page
    base = j.base
    t = j.t
    prefix = j.prefix
    wallet = j.wallet
    mine_to = j.mine_to
    # Save a withdrawal address (needs a code; backup code here), then withdraw.
    destination = str(wallet.call("getnewaddress", "", "bech32"))
    page.goto(f"{base}/addresses/")
    page.fill("#id_label", "My hardware wallet")
    page.fill("#id_address", destination)
    page.fill("#id_otp_code", backup[0])
    page.click(f"main button:has-text('{t('Save address')}')")
    assert t("Address saved. For your safety you can use it from %(when)s.").split("%")[0] in (
        page.content()
    )
    shot(page, prefix + "08-addresses")
    phone_shot(page, prefix + "08-addresses")
    page.goto(f"{base}/withdraw/")
    page.fill("#id_amount", "0.002")
    page.click(f"main button:has-text('{t('Continue')}')")
    fee = int(django_settings.WITHDRAWAL_FEE_SATS)
    total = page.inner_text("[data-testid=withdraw-total]")
    assert total == t.money(200_000 + fee, "BTC")
    shot(page, prefix + "09-withdraw-confirm")
    phone_shot(page, prefix + "09-withdraw-confirm")
    page.fill("#id_otp_code", codes.next())
    page.click("main button.btn-primary")
    page.wait_for_url(re.compile(r".*/withdrawals/\d+/$"))
    withdrawal = Withdrawal.objects.get()
    status = "[data-testid=withdrawal-status]"
    if withdrawal.status == "pending_review":
        # Compliance rules may hold a first withdrawal for review: staff approve it.
        assert page.inner_text(status) == t("Being reviewed", "status")
        withdrawal_approve(withdrawal_id=withdrawal.pk, actor=officer, reason="e2e: known customer")
        page.reload()
    assert page.inner_text(status) == t("Approved", "status")

    # The custody jobs send it; one confirmation later the page says so.
    assert withdrawal_batch_create() is not None
    assert withdrawal_batch_broadcast() == 1
    node_client().call("generatetoaddress", int(django_settings.WITHDRAWAL_CONFIRMATIONS), mine_to)
    chain_sync()
    assert withdrawal_batch_confirm() == 1
    page.reload()
    assert page.inner_text(status) == t("Confirmed", "status")
    assert Withdrawal.objects.get().status == "confirmed"
    shot(page, prefix + "10-withdrawal")


def _journey_statement_and_after(j: Journey, codes: Codes, officer: User) -> None:
    """Statement, proof of reserves, notifications, phone page, log in again."""
    page = j.page
    base = j.base
    t = j.t
    prefix = j.prefix
    email = j.email
    # Statement: show it with counterparties, download CSV and PDF.
    page.goto(f"{base}/statement/")
    btc_option = page.locator("#id_account option", has_text="BTC").get_attribute("value")
    page.select_option("#id_account", btc_option)
    page.click(f"main button:has-text('{t('Show')}')")
    page.wait_for_selector("[data-testid=counterparty]")
    assert t("Bitcoin network (deposit)", "counterparty") in page.content()
    shot(page, prefix + "11-statement")
    phone_shot(page, prefix + "11-statement")
    with page.expect_download() as csv_download:
        page.click(f"text={t('Download CSV')}")
    csv_path = ARTIFACTS / f"{prefix}statement.csv"
    csv_download.value.save_as(str(csv_path))
    text = csv_path.read_text()
    assert "0.01000000" in text and "-0.00100000" in text and t("Closing balance") in text
    with page.expect_download() as pdf_download:
        page.click(f"text={t('Download PDF')}")
    pdf_path = ARTIFACTS / f"{prefix}statement.pdf"
    pdf_download.value.save_as(str(pdf_path))
    assert pdf_path.read_bytes().startswith(b"%PDF-")

    # Proof of reserves: download my proof and check it in the browser.
    reserves_snapshot(actor=officer)
    page.goto(f"{base}/reserves/")
    with page.expect_download() as proof_download:
        page.click("a[href*='/reserves/proof/']")
    proof_path = ARTIFACTS / f"{prefix}proof.json"
    proof_download.value.save_as(str(proof_path))
    page.set_input_files("#proof-file", str(proof_path))
    page.wait_for_selector("#verify-result[data-verified=yes]")
    assert page.inner_text("#verify-result") == t(
        "Verified: your balance is included in this snapshot."
    )
    shot(page, prefix + "12-reserves")
    phone_shot(page, prefix + "12-reserves")

    # What the bank told the customer, in the app (collected by the Celery job).
    assert notifications_collect()
    page.goto(f"{base}/notifications/")
    notes = page.inner_text("[data-testid=notifications]")
    assert t("Deposit credited") in notes and t("Withdrawal confirmed") in notes
    shot(page, prefix + "13-notifications")
    phone_shot(page, prefix + "13-notifications")

    # Phone-sized transfer page; then log out and back in with the code.
    page.goto(f"{base}/transfers/new/")
    phone_shot(page, prefix + "14-transfer")
    page.click(f"text={t('Log out')}")
    page.goto(f"{base}/statement/")
    page.wait_for_url(re.compile(r".*/login/\?next=/statement/$"))
    shot(page, prefix + "15-login")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/verify/")
    page.fill("#id_otp_code", codes.next())
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/statement/")


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_customer_journey(
    browser_page: Any, live_server: Any, funder: Any, settings: Any, language: str
) -> None:
    settings.WITHDRAWAL_ADDRESS_COOLDOWN_S = 0
    settings.RATELIMIT_SIGNUP = "100/m"
    page, base = browser_page, live_server.url
    wallet, mine_to = funder
    t, email = Words(language), f"aigerim.{language}@example.kz"
    prefix = f"{language}-"

    j = Journey(page, base, t, prefix, email, wallet, mine_to, language)
    codes, backup = _journey_sign_up(j)
    _journey_deposit(j)
    officer = _journey_identity_exchange(j)
    _journey_withdraw(j, codes, backup, officer)
    _journey_statement_and_after(j, codes, officer)


def test_invoice_qr_keeps_its_quiet_zone_and_decodes(
    browser_page: Any, live_server: Any, funder: Any
) -> None:
    from merchants.services.invoices import invoice_create
    from merchants.services.merchants import merchant_onboard

    admin = User.objects.create_superuser(email="admin.qr@alatau.kz", password=PASSWORD)
    owner = User.objects.create_user(email="shop.qr@example.kz", password=PASSWORD)
    merchant = merchant_onboard(name="Alatau Coffee", owner=owner, actor=admin)
    invoice = invoice_create(merchant=merchant, amount="0.00125", currency="BTC", actor=admin)
    page = browser_page
    for width in (1200, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/i/{invoice.id}")
        text = qr_text(page, ".qr")
        assert text.lower().startswith("bitcoin:") and "amount=0.00125" in text
        shot(page, f"invoice-checkout-{width}")
