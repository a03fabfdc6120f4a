"""Withdrawal addresses (2FA, cool-down), withdraw (fee, total, code, cancel), deposit page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Identity, User
from accounts.selectors import ledger_check
from custody.models import Withdrawal, WithdrawalAddress
from tests.banking.conftest import account_of, enable_2fa, login, otp_code, otp_lockout_elapse
from tests.conftest import fund

# Valid regtest addresses (BIP173 test vector style, hrp bcrt).
ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
ADDRESS_2 = "bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qzf4jry"


@pytest.fixture
def tfa_customer(customer: User) -> User:
    enable_2fa(customer)
    return customer


@pytest.fixture
def tfa_client(tfa_customer: User) -> Client:
    return login(Client(), tfa_customer)


def _ready_address(user: User, address: str = ADDRESS) -> WithdrawalAddress:
    saved = WithdrawalAddress.objects.create(
        user=user,
        label="Cold card",
        address=address,
        usable_from=timezone.now() - dt.timedelta(seconds=1),
    )
    return saved


def test_withdraw_pages_need_2fa(customer_client: Client) -> None:
    for url in ("/withdraw/", "/addresses/"):
        response = customer_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/security/2fa/setup/?next=")


def test_add_address_needs_a_code_and_waits_for_the_cooldown(
    tfa_customer: User, tfa_client: Client, settings: Any
) -> None:
    settings.WITHDRAWAL_ADDRESS_COOLDOWN_S = 3600
    response = tfa_client.post(
        "/addresses/", {"label": "Mine", "address": ADDRESS, "otp_code": "000000"}
    )
    assert response.status_code == 200
    assert "not valid" in " ".join(response.context["form"].errors["otp_code"])
    otp_lockout_elapse(tfa_customer)  # the wrong code locked the device for a moment
    response = tfa_client.post(
        "/addresses/",
        {"label": "Mine", "address": "bc1qnotregtest", "otp_code": otp_code(tfa_customer)},
    )
    assert "address" in response.context["form"].errors
    response = tfa_client.post(
        "/addresses/", {"label": "Mine", "address": ADDRESS, "otp_code": otp_code(tfa_customer)}
    )
    assert response.status_code == 302
    saved = WithdrawalAddress.objects.get(user=tfa_customer)
    assert saved.usable_from > timezone.now() + dt.timedelta(minutes=59)
    # Cooling down: a withdrawal to it is refused.
    fund(account_of(tfa_customer, "BTC"), 1_000_000)
    # The withdraw page says when the address becomes usable and offers no form yet.
    page = tfa_client.get("/withdraw/")
    assert page.context["has_ready_address"] is False
    assert "Usable from" in page.content.decode()
    # Posting anyway is refused on the first step, before any 2FA code, saying when.
    response = tfa_client.post("/withdraw/", {"address": saved.pk, "amount": "0.001"})
    assert response.status_code == 422
    errors = " ".join(response.context["form"].errors["address"])
    assert "cool-down" in errors and "can be used from" in errors
    assert not Withdrawal.objects.exists()


def test_remove_address_and_others_are_404(
    tfa_customer: User, tfa_client: Client, make_customer: Any
) -> None:
    saved = _ready_address(tfa_customer)
    stranger = login(Client(), make_customer())
    assert stranger.post(f"/addresses/{saved.pk}/remove/").status_code == 404
    assert tfa_client.post(f"/addresses/{saved.pk}/remove/").status_code == 302
    saved.refresh_from_db()
    assert saved.removed_at is not None


def _approve_identity(user: User, tier: int = 1) -> None:
    Identity.objects.filter(user=user).update(status="approved", tier=tier)


def test_withdraw_shows_fee_and_total_then_needs_a_code(
    tfa_customer: User, tfa_client: Client, settings: Any
) -> None:
    _approve_identity(tfa_customer)
    saved = _ready_address(tfa_customer)
    btc = account_of(tfa_customer, "BTC")
    fund(btc, 1_000_000)
    review = tfa_client.post("/withdraw/", {"address": saved.pk, "amount": "0.005"})
    assert review.status_code == 200
    html = review.content.decode()
    total = 500_000 + settings.WITHDRAWAL_FEE_SATS
    assert f"0.{total:08d} BTC" in html
    key = review.context["form"]["idempotency_key"].value()
    data = {"address": saved.pk, "amount": "0.005", "idempotency_key": key, "confirm": "1"}
    response = tfa_client.post("/withdraw/", {**data, "otp_code": "000000"})
    assert response.status_code == 422
    assert not Withdrawal.objects.exists()
    otp_lockout_elapse(tfa_customer)  # the wrong code above locked the device
    response = tfa_client.post("/withdraw/", {**data, "otp_code": otp_code(tfa_customer)})
    assert response.status_code == 302
    withdrawal = Withdrawal.objects.get()
    assert response["Location"] == f"/withdrawals/{withdrawal.pk}/"
    # Double submit: the same withdrawal, no second hold.
    again = tfa_client.post("/withdraw/", {**data, "otp_code": "000000"})
    assert again["Location"] == response["Location"]
    assert Withdrawal.objects.count() == 1
    btc.refresh_from_db()
    assert btc.held_minor == total
    page = tfa_client.get(response["Location"])
    assert page.status_code == 200
    # Dashboard lists it as pending.
    assert f"/withdrawals/{withdrawal.pk}/" in tfa_client.get("/").content.decode()
    # Cancel releases the hold.
    assert tfa_client.post(f"/withdrawals/{withdrawal.pk}/cancel/").status_code == 302
    withdrawal.refresh_from_db()
    btc.refresh_from_db()
    assert withdrawal.status == "cancelled"
    assert btc.held_minor == 0
    assert ledger_check() == []


def test_tier_0_cannot_withdraw(tfa_customer: User, tfa_client: Client) -> None:
    saved = _ready_address(tfa_customer)
    fund(account_of(tfa_customer, "BTC"), 1_000_000)
    # The limit is checked on the first step, before a 2FA code is asked for.
    response = tfa_client.post("/withdraw/", {"address": saved.pk, "amount": "0.001"})
    assert response.status_code == 422
    assert "otp_code" not in response.context["form"].fields
    assert "limit" in " ".join(response.context["form"].errors["amount"])
    # A confirm posted anyway is refused the same way.
    response = tfa_client.post(
        "/withdraw/",
        {
            "address": saved.pk,
            "amount": "0.001",
            "idempotency_key": "k-tier0",
            "confirm": "1",
            "otp_code": otp_code(tfa_customer),
        },
    )
    assert response.status_code == 422
    assert "limit" in " ".join(response.context["form"].errors["amount"])
    assert not Withdrawal.objects.exists()


def test_large_withdrawal_asks_for_travel_rule_data(tfa_customer: User, tfa_client: Client) -> None:
    _approve_identity(tfa_customer, tier=2)
    saved = _ready_address(tfa_customer)
    fund(account_of(tfa_customer, "BTC"), 10_000_000)
    review = tfa_client.post("/withdraw/", {"address": saved.pk, "amount": "0.05"})
    assert review.context["needs_travel"] is True
    key = review.context["form"]["idempotency_key"].value()
    data = {"address": saved.pk, "amount": "0.05", "idempotency_key": key, "confirm": "1"}
    response = tfa_client.post("/withdraw/", {**data, "otp_code": otp_code(tfa_customer)})
    assert response.status_code == 422
    assert "beneficiary_name" in response.context["form"].errors
    response = tfa_client.post(
        "/withdraw/",
        {
            **data,
            "otp_code": otp_code(tfa_customer),
            "beneficiary_name": "Aigerim Sultanova",
            "wallet": "own",
        },
    )
    assert response.status_code == 302
    assert Withdrawal.objects.get().travel_rule == {
        "beneficiary_name": "Aigerim Sultanova",
        "wallet": "own",
    }


def test_another_customers_withdrawal_is_404(
    tfa_customer: User, tfa_client: Client, make_customer: Any
) -> None:
    _approve_identity(tfa_customer)
    saved = _ready_address(tfa_customer)
    fund(account_of(tfa_customer, "BTC"), 1_000_000)
    review = tfa_client.post("/withdraw/", {"address": saved.pk, "amount": "0.001"})
    key = review.context["form"]["idempotency_key"].value()
    tfa_client.post(
        "/withdraw/",
        {
            "address": saved.pk,
            "amount": "0.001",
            "idempotency_key": key,
            "confirm": "1",
            "otp_code": otp_code(tfa_customer),
        },
    )
    withdrawal = Withdrawal.objects.get()
    stranger = make_customer()
    enable_2fa(stranger)
    client = login(Client(), stranger)
    assert client.get(f"/withdrawals/{withdrawal.pk}/").status_code == 404
    assert client.post(f"/withdrawals/{withdrawal.pk}/cancel/").status_code == 404
    withdrawal.refresh_from_db()
    assert withdrawal.status != "cancelled"
    # Someone else's saved address id cannot be used either.
    _approve_identity(stranger)
    fund(account_of(stranger, "BTC"), 1_000_000)
    response = client.post("/withdraw/", {"address": saved.pk, "amount": "0.001"})
    assert "address" in response.context["form"].errors


def test_deposit_page_without_an_address_offers_one(customer_client: Client) -> None:
    page = customer_client.get("/deposit/")
    assert page.status_code == 200
    assert "Get my deposit address" in page.content.decode()
