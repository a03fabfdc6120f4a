"""The staff admin in Russian and Kazakh: a compliance officer signs in from a browser set to
that language and sees the bank's own admin text translated (Chromium, screenshots saved)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from compliance.roles import COMPLIANCE_OFFICER
from tests.conftest import CHROMIUM_ARGS, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PASSWORD = "Officer-Pass-2031"
# What the officer must read in each language: the bank's own strings (the work counters,
# model names) and one of Django's, so neither catalog can silently fall back to English.
EXPECTED = {
    "ru-RU": ["Рабочие очереди", "Открытые дела", "Обменные курсы", "Курсы для цен"],
    "kk-KZ": ["Ашық істер", "Шығару мекенжайлары", "Қарау", "Соңғы әрекеттер", "Менің әрекеттерім"],
}


def _token(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_the_admin_speaks_the_officers_language(
    locale: str, live_server: Any, staff: Callable[..., User]
) -> None:
    from playwright.sync_api import sync_playwright

    officer = staff(COMPLIANCE_OFFICER, email=f"officer-{locale}@alatau.example")
    officer.set_password(PASSWORD)
    officer.save(update_fields=["password"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            page = browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/admin/")
            page.fill("input[name=username]", officer.email)
            page.fill("input[name=password]", PASSWORD)
            page.fill("input[name=otp_token]", _token(officer))
            page.click("input[type=submit]")
            page.wait_for_selector("#work-counters")
            text = page.inner_text("body")
            page.screenshot(path=str(SHOTS / f"admin-index-{locale}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            browser.close()
            connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    missing = [phrase for phrase in EXPECTED[locale] if phrase not in text]
    assert missing == [], f"untranslated in {locale}: {missing}"
    for english in ("Open cases", "Pricing rates", "none yet", "Recent actions"):
        assert english not in text
    assert width <= 390 + 1, f"the admin index scrolls sideways at 390 px ({width} px)"
