"""A merchant key cannot go around the customer door's protections (issue 12, points 4 and 5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from core.errors import PermissionDenied, ValidationFailed
from custody.models import Withdrawal
from merchants.models import ApiKey, Merchant, Payout, PayoutAddress
from merchants.services.keys import SCOPE_PAYOUT, SCOPE_VIEW_INVOICES, api_key_create
from tests.banking.conftest import enable_2fa, otp_code, otp_lockout_elapse
from tests.conftest import fund
from tests.merchants.conftest import allow_list, store_url
from tests.merchants.test_funds import ADDRESS

pytestmark = [pytest.mark.django_db, pytest.mark.insider]


def _nothing_moved(merchant: Merchant) -> None:
    assert not Payout.objects.filter(merchant=merchant).exists()
    assert not Withdrawal.objects.filter(account=merchant.btc_account).exists()
    call_command("ledger_check")


def test_a_key_pays_nothing_to_an_address_off_the_allow_list(
    api: APIClient, merchant: Merchant
) -> None:
    fund(merchant.btc_account, 500_000)
    response = api.post(store_url(merchant, "payouts"),
                        {"amount": "0.001", "destination": ADDRESS, "approved": True}, format="json")  # fmt: skip
    assert response.status_code == 422
    assert [p["path"] for p in response.json()] == ["destination"]
    _nothing_moved(merchant)


def test_a_key_pays_nothing_to_an_address_still_cooling_down(
    api: APIClient, merchant: Merchant
) -> None:
    fund(merchant.btc_account, 500_000)
    PayoutAddress.objects.create(merchant=merchant, label="new", address=ADDRESS,
                                 usable_from=timezone.now() + dt.timedelta(hours=23))  # fmt: skip
    response = api.post(store_url(merchant, "payouts"),
                        {"amount": "0.001", "destination": ADDRESS, "approved": True}, format="json")  # fmt: skip
    assert response.status_code == 422 and "Usable from" in response.json()[0]["message"]
    _nothing_moved(merchant)


def test_a_retried_payout_without_a_key_pays_once(api: APIClient, merchant: Merchant) -> None:
    fund(merchant.btc_account, 500_000)
    allow_list(merchant, ADDRESS)
    body = {"amount": "0.001", "destination": ADDRESS, "approved": True}
    first = api.post(store_url(merchant, "payouts"), body, format="json")
    again = api.post(store_url(merchant, "payouts"), body, format="json")  # a timeout retry
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Payout.objects.filter(merchant=merchant).count() == 1
    assert Withdrawal.objects.filter(account=merchant.btc_account).count() == 1
    call_command("ledger_check")


def test_a_money_key_needs_the_owners_code(
    merchant: Merchant, make_user: Callable[..., Any]
) -> None:
    owner = merchant.owner
    with pytest.raises(ValidationFailed):  # no second factor set up at all
        api_key_create(merchant=merchant, label="x", scopes=[SCOPE_PAYOUT], actor=owner)
    enable_2fa(owner)
    with pytest.raises(ValidationFailed):  # a wrong code
        api_key_create(merchant=merchant, label="x", scopes=[SCOPE_PAYOUT], actor=owner,
                       otp_code="000000")  # fmt: skip
    with pytest.raises(PermissionDenied):  # only the owner makes the store's keys
        api_key_create(merchant=merchant, label="x", scopes=[SCOPE_VIEW_INVOICES],
                       actor=make_user())  # fmt: skip
    assert not ApiKey.objects.filter(merchant=merchant).exists()
    api_key_create(merchant=merchant, label="view", scopes=[SCOPE_VIEW_INVOICES], actor=owner)
    otp_lockout_elapse(owner)  # the wrong code throttled the device: wait it out
    key, _ = api_key_create(merchant=merchant, label="pay", scopes=[SCOPE_PAYOUT], actor=owner,
                            otp_code=otp_code(owner))  # fmt: skip
    assert key.scopes == [SCOPE_PAYOUT]
