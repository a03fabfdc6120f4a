"""A compliance officer reviews one flagged withdrawal in a real browser (headless Chromium)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, User
from compliance.models import Case, RuleConfig
from compliance.roles import COMPLIANCE_OFFICER
from tests.compliance.conftest import regtest_address, request_withdrawal
from tests.conftest import CHROMIUM_ARGS, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Officer-Pass-2031"


@pytest.fixture
def browser_page() -> Iterator[Any]:
    chromium = chromium_path()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
            browser.close()
            # Under playwright's greenlet the ORM opened its own connection: close it.
            connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _token(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_officer_reviews_a_flagged_withdrawal(
    live_server: Any,
    staff: Callable[..., User],
    customer_btc: Callable[..., Account],
    browser_page: Any,
) -> None:
    RuleConfig.objects.filter(name="four_eyes_withdrawal").update(params={"threshold_tiyn": 10**15})
    officer = staff(COMPLIANCE_OFFICER, email="officer@alatau.example")
    officer.set_password(PASSWORD)
    officer.save(update_fields=["password"])
    withdrawal = request_withdrawal(
        customer_btc(),
        100_000_000,
        regtest_address(900),
        travel_rule={"beneficiary_name": "Aigerim Sadykova", "wallet": "own"},
    )
    assert withdrawal.status == "pending_review"
    case = Case.objects.get(subject_type="custody.withdrawal", subject_id=str(withdrawal.pk))
    page = browser_page

    # Sign in on the first try: email, password and the app's code on one page
    # (the form picks the officer's one authenticator device itself).
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", officer.email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=otp_token]", _token(officer))
    page.click("input[type=submit][value='Log in']")
    page.wait_for_selector("#work-counters")
    assert page.inner_text("#counter-withdrawals").strip() == "1"

    # From the counter to the queue, then to the case.
    page.click("text=Withdrawals awaiting review")
    page.wait_for_selector("#result_list")
    page.click(f"#result_list a[href*='/compliance/case/{case.pk}/change/']")
    page.wait_for_selector("#withdrawal-facts")
    facts = page.inner_text("#case-facts")
    assert "1.00000000 BTC" in facts or "1 BTC" in facts
    assert regtest_address(900) in facts
    assert "Aigerim Sadykova" in page.inner_text("#travel-rule")
    assert "amount" in page.inner_text("#rules-fired")

    # A note, from the same page.
    page.fill("#note-text", "Called the customer: paying their own hardware wallet.")
    page.click("#add-note")
    page.wait_for_selector(".messagelist")
    assert "paying their own hardware wallet" in page.inner_text("#case-notes")

    # A decision without a reason is refused, and nothing changes.
    page.click("#approve-withdrawal")
    page.wait_for_selector(".messagelist")
    assert re.search(r"reason", page.inner_text(".messagelist"), re.IGNORECASE)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "pending_review"

    # With a reason the withdrawal is approved and the case closes.
    page.fill("#decide-reason", "Customer's own wallet, source of funds verified")
    page.click("#approve-withdrawal")
    page.wait_for_selector(".messagelist")
    assert "approved" in page.inner_text(".messagelist")
    assert page.inner_text("#withdrawal-status").strip() == "approved"
    withdrawal.refresh_from_db()
    case.refresh_from_db()
    assert withdrawal.status == "approved" and withdrawal.reviewed_by == officer
    assert (case.status, case.decision) == ("closed", "approved")
    assert case.decision_reason == "Customer's own wallet, source of funds verified"
