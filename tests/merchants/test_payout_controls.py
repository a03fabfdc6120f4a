"""A key (or a page) cannot go around the payout controls: allow-list, cool-down, retries, 2FA."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.errors import ValidationFailed
from custody.models import Withdrawal
from merchants.models import ApiKey, Merchant, Payout
from merchants.services.keys import SCOPE_PAYOUT, SCOPE_VIEW_INVOICES, api_key_create
from tests.banking.conftest import enable_2fa, otp_code, otp_lockout_elapse
from tests.conftest import fund
from tests.merchants.conftest import allow_list, owner_verified, problems, store_url
from tests.merchants.test_funds import ADDRESS

pytestmark = [pytest.mark.django_db, pytest.mark.insider]

BODY = {"amount": "0.00100000", "destination": ADDRESS, "approved": True}


@pytest.mark.parametrize("listed", [False, True], ids=["not-listed", "cooling-down"])
def test_a_key_pays_nothing_off_the_allow_list(
    api: APIClient, merchant: Merchant, listed: bool
) -> None:
    fund(merchant.btc_account, 500_000)
    owner_verified(merchant)
    if listed:
        allow_list(merchant, ADDRESS, usable_now=False)
    response = api.post(store_url(merchant, "payouts"), BODY, format="json")
    assert "destination" in problems(response)
    assert not Payout.objects.exists() and not Withdrawal.objects.exists()
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.available_minor == 500_000


def test_a_retry_without_idempotency_key_is_one_payout(api: APIClient, merchant: Merchant) -> None:
    fund(merchant.btc_account, 500_000)
    owner_verified(merchant)
    allow_list(merchant, ADDRESS)
    first = api.post(store_url(merchant, "payouts"), BODY, format="json")
    again = api.post(store_url(merchant, "payouts"), BODY, format="json")
    assert first.status_code == again.status_code == 200, again.content
    assert first.json()["id"] == again.json()["id"]
    assert Payout.objects.count() == 1
    assert Withdrawal.objects.filter(account=merchant.btc_account).count() == 1


def test_a_money_key_needs_the_owners_code(merchant: Merchant) -> None:
    owner = merchant.owner
    with pytest.raises(ValidationFailed):  # no second factor at all
        api_key_create(merchant=merchant, label="pay", scopes=[SCOPE_PAYOUT], actor=owner)
    enable_2fa(owner)
    for code in ("", "000000"):
        with pytest.raises(ValidationFailed):
            api_key_create(
                merchant=merchant, label="pay", scopes=[SCOPE_PAYOUT], actor=owner, otp_code=code
            )
    assert not ApiKey.objects.exists()
    api_key_create(merchant=merchant, label="view", scopes=[SCOPE_VIEW_INVOICES], actor=owner)
    otp_lockout_elapse(owner)  # the wrong codes throttled the device: wait it out
    key, _ = api_key_create(
        merchant=merchant, label="pay", scopes=[SCOPE_PAYOUT], actor=owner, otp_code=otp_code(owner)
    )
    assert key.scopes == [SCOPE_PAYOUT]


def test_the_keys_page_asks_the_code_for_a_money_key(merchant: Merchant) -> None:
    enable_2fa(merchant.owner)
    browser = Client()
    browser.force_login(merchant.owner)
    browser.post(
        "/merchant/keys/", {"label": "pay", "scopes": [SCOPE_PAYOUT], "otp_code": "000000"}
    )
    assert not ApiKey.objects.exists()
    browser.post("/merchant/keys/", {"label": "view", "scopes": [SCOPE_VIEW_INVOICES]})
    assert list(ApiKey.objects.values_list("label", flat=True)) == ["view"]
    otp_lockout_elapse(merchant.owner)  # the wrong code throttled the device: wait it out
    browser.post(
        "/merchant/keys/",
        {"label": "pay", "scopes": [SCOPE_PAYOUT], "otp_code": otp_code(merchant.owner)},
    )
    assert ApiKey.objects.filter(label="pay").exists()
