"""The demo seed gives a newcomer what they need: a withdrawal to watch, a USD invoice to make."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from custody.models import WithdrawalAddress
from exchange.models import PricingRate
from merchants.models import Merchant
from merchants.services.invoices import invoice_create

# The seed mines, funds and loads demo wallets on the session's one regtest node,
# which then misleads the deposit scanner tests that share it: run it on its own,
# DEMO_SEED_TEST=1 make pytest PYTEST_ARGS=tests/bank/test_demo_seed.py
pytestmark = [
    pytest.mark.node,
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("DEMO_SEED_TEST"), reason="set DEMO_SEED_TEST=1 (own node)"
    ),
]


def test_demo_customers_have_2fa_and_a_usable_address(
    bitcoind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from bank.management.commands import demo_seed

    monkeypatch.setattr(demo_seed, "VAR", tmp_path)
    settings.ALATAU_ENV = "development"
    call_command("demo_seed")
    call_command("demo_seed")  # idempotent: a second run adds nothing
    logins = (tmp_path / "demo-logins.txt").read_text()
    for email in ("alice@example.kz", "bob@example.kz"):
        user = User.objects.get(email=email)
        assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
        saved = WithdrawalAddress.objects.filter(user=user, removed_at__isnull=True)
        assert saved.count() == 1 and saved.get().usable_from <= timezone.now()
        assert f"{email}" in logins and "2FA (TOTP) secret" in logins

    merchant = Merchant.objects.get(owner__email=demo_seed.MERCHANT_OWNER)
    # The seed set the USD and EUR pricing rates through the service, so both price.
    assert {r.currency for r in PricingRate.objects.filter(set_by__isnull=False)} >= {"USD", "EUR"}
    invoice = invoice_create(merchant=merchant, amount="9.00", currency="USD")
    # 9.00 USD at 900.00 USD per BTC: 0.01 BTC due.
    assert (invoice.currency, invoice.amount_minor, invoice.amount_sats) == ("USD", 900, 1_000_000)
