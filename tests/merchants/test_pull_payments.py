"""Greenfield refunds as pull payments; payouts claimed, approved (a withdrawal), cancelled."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, User
from accounts.selectors import ledger_check
from custody.models import Withdrawal
from merchants.models import Merchant, WebhookDelivery
from merchants.services.invoices import invoice_create
from merchants.services.keys import SCOPE_VIEW_INVOICES
from merchants.services.payments import invoice_pay_in_bank
from tests.compliance.conftest import regtest_address
from tests.merchants.conftest import Greenfield, allow_list, owner_verified, problems, store_url
from tests.merchants.test_funds import ADDRESS

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(
    merchant: Merchant, make_user: Callable[..., User], funded_account: Callable[..., Account]
) -> str:
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    invoice = invoice_create(merchant=merchant, amount="0.00100000", currency="BTC")
    invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    return invoice.id


def _refund(api: APIClient, invoice_id: str, **body: Any) -> Any:
    return api.post(f"/api/v1/invoices/{invoice_id}/refund", body, format="json")


def test_refund_returns_a_pull_payment(
    api: APIClient, merchant: Merchant, paid: str, greenfield: Greenfield
) -> None:
    response = _refund(api, paid, refundVariant="RateThen", subtractPercentage="2.5")
    assert response.status_code == 200, response.content
    pull = response.json()
    greenfield.validate(pull, "PullPaymentData")
    assert (pull["currency"], pull["amount"]) == ("BTC", "0.00097500")
    assert pull["name"] == f"Refund {paid}"
    public = APIClient().get(f"/api/v1/pull-payments/{pull['id']}")  # no key, as in BTCPay
    assert public.json() == pull
    listed = api.get(store_url(merchant, "pull-payments")).json()
    assert [p["id"] for p in listed] == [pull["id"]]
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.held_minor == 0  # no money moves at this point


def test_refunds_never_exceed_what_the_invoice_received(
    api: APIClient, merchant: Merchant, paid: str
) -> None:
    assert (
        _refund(
            api, paid, refundVariant="Custom", customAmount="0.0006", customCurrency="BTC"
        ).status_code
        == 200
    )
    too_much = _refund(api, paid, refundVariant="RateThen")
    assert "refundVariant" in problems(too_much)
    instant = api.post(
        store_url(merchant, f"invoices/{paid}/refunds"), {"method": "InBank"}, format="json"
    )
    assert instant.json()["amount"] == "0.00040000"  # what the pull payment left
    assert "refundVariant" in problems(
        _refund(api, paid, refundVariant="Custom", customAmount="0.00000001", customCurrency="BTC")
    )


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "refundVariant"),
        ({"refundVariant": "Nope"}, "refundVariant"),
        ({"refundVariant": "Fiat"}, "refundVariant"),
        ({"refundVariant": "OverpaidAmount"}, "refundVariant"),
        ({"refundVariant": "RateThen", "subtractPercentage": "101"}, "subtractPercentage"),
        (
            {"refundVariant": "Custom", "customAmount": "1", "customCurrency": "USD"},
            "customCurrency",
        ),
        (
            {"refundVariant": "Custom", "customAmount": "-1", "customCurrency": "BTC"},
            "customAmount",
        ),
        ({"refundVariant": "RateThen", "payoutMethods": ["BTC-LN"]}, "payoutMethods[0]"),
    ],
)
def test_refund_input_is_checked(
    api: APIClient, paid: str, body: dict[str, Any], path: str
) -> None:
    assert path in problems(_refund(api, paid, **body))


def test_unpaid_invoice_is_non_refundable(api: APIClient, merchant: Merchant) -> None:
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC")
    response = _refund(api, invoice.id, refundVariant="RateThen")
    assert response.status_code == 400
    assert response.json() == {"code": "non-refundable", "message": "Cannot refund this invoice."}


def test_refund_needs_the_pull_payment_permission(
    merchant: Merchant, make_client: Callable[..., APIClient], paid: str
) -> None:
    viewer = make_client(merchant, [SCOPE_VIEW_INVOICES])
    denied = _refund(viewer, paid, refundVariant="RateThen")
    assert denied.status_code == 403
    assert denied.json()["missingPermission"] == "btcpay.store.cancreatenonapprovedpullpayments"


def test_claim_approve_and_the_withdrawal(
    api: APIClient, merchant: Merchant, paid: str, greenfield: Greenfield
) -> None:
    allow_list(merchant, ADDRESS)
    owner_verified(merchant)
    api.post(store_url(merchant, "webhooks"), {"url": "https://shop.example/h"}, format="json")
    pull = _refund(api, paid, refundVariant="RateThen").json()
    payer = APIClient()
    bad = payer.post(
        f"/api/v1/pull-payments/{pull['id']}/payouts", {"destination": "nope"}, format="json"
    )
    assert "destination" in problems(bad)
    over = payer.post(
        f"/api/v1/pull-payments/{pull['id']}/payouts",
        {"destination": ADDRESS, "amount": "0.002"},
        format="json",
    )
    assert over.status_code == 400 and over.json()["code"] == "overdraft"  # BTCPay's answer
    claim = payer.post(
        f"/api/v1/pull-payments/{pull['id']}/payouts",
        {"destination": ADDRESS, "amount": "0.0006", "payoutMethodId": "BTC-CHAIN"},
        format="json",
    ).json()
    greenfield.validate(claim, "PayoutData")
    assert (claim["state"], claim["payoutAmount"], claim["originalAmount"]) == (
        "AwaitingApproval",
        None,
        "0.00060000",
    )
    assert isinstance(claim["id"], str) and isinstance(claim["date"], str)
    approved = api.post(f"/api/v1/payouts/{claim['id']}", {"revision": 0}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "AwaitingPayment"
    assert approved.json()["payoutAmount"] == "0.00060000"
    greenfield.validate(approved.json(), "PayoutData")
    withdrawal = Withdrawal.objects.get(account=merchant.btc_account)
    assert (withdrawal.amount_sats, withdrawal.address) == (60_000, ADDRESS)
    assert withdrawal.status in ("requested", "approved", "pending_review")
    public = APIClient().get(f"/api/v1/pull-payments/{pull['id']}/payouts/{claim['id']}")
    assert public.json()["state"] == "AwaitingPayment"
    assert "revision" in problems(api.post(f"/api/v1/payouts/{claim['id']}", {}, format="json"))
    retry = api.post(f"/api/v1/payouts/{claim['id']}", {"revision": 0}, format="json")
    assert retry.json() == approved.json()  # a retry (derived idempotency key) is a replay
    again = api.post(
        f"/api/v1/payouts/{claim['id']}",
        {"revision": 0},
        format="json",
        HTTP_IDEMPOTENCY_KEY="second-approval",
    )
    assert (again.status_code, again.json()["code"]) == (400, "invalid-state")  # sends once
    assert Withdrawal.objects.count() == 1
    types = [json.loads(d.body)["type"] for d in WebhookDelivery.objects.order_by("created_at")]
    assert types[-2:] == ["PayoutCreated", "PayoutApproved"]
    body = json.loads(WebhookDelivery.objects.filter(event_type="PayoutApproved").get().body)
    assert (body["payoutId"], body["pullPaymentId"], body["payoutState"]) == (
        claim["id"],
        pull["id"],
        "AwaitingPayment",
    )
    assert ledger_check() == []


def test_cancel_and_mark_paid(api: APIClient, merchant: Merchant, paid: str) -> None:
    pull = _refund(api, paid, refundVariant="RateThen").json()
    url = f"/api/v1/pull-payments/{pull['id']}/payouts"
    first = (
        APIClient().post(url, {"destination": ADDRESS, "amount": "0.0005"}, format="json").json()
    )
    # To another address: ADDRESS has an active payout (duplicate-destination).
    second = APIClient().post(url, {"destination": regtest_address(9)}, format="json").json()
    assert second["originalAmount"] == "0.00050000"  # the rest, by default
    cancelled = api.delete(f"/api/v1/payouts/{first['id']}")
    assert cancelled.json()["state"] == "Cancelled"
    again = api.delete(f"/api/v1/payouts/{first['id']}")  # as BTCPay: stays cancelled, no error
    assert (again.status_code, again.json()["state"]) == (200, "Cancelled")
    # BTCPay marks only approved payouts; this one awaits approval.
    not_approved = api.post(f"/api/v1/payouts/{second['id']}/mark-paid")
    assert (not_approved.status_code, not_approved.json()) == (
        400,
        {"code": "invalid-state", "message": "The payout is not approved."},
    )
    listed = APIClient().get(url).json()
    assert [p["id"] for p in listed] == [second["id"]]  # cancelled ones only on request
    assert len(APIClient().get(url + "?includeCancelled=true").json()) == 2
    assert not Withdrawal.objects.exists()


def test_other_stores_payouts_are_404(
    api: APIClient,
    merchant: Merchant,
    paid: str,
    make_merchant: Callable[..., Merchant],
    make_client: Callable[..., APIClient],
) -> None:
    pull = _refund(api, paid, refundVariant="RateThen").json()
    claim = (
        APIClient()
        .post(
            f"/api/v1/pull-payments/{pull['id']}/payouts", {"destination": ADDRESS}, format="json"
        )
        .json()
    )
    rival = make_client(make_merchant("Rival"))
    for response in (
        rival.get(f"/api/v1/payouts/{claim['id']}"),
        rival.post(f"/api/v1/payouts/{claim['id']}", {"revision": 0}, format="json"),
        rival.delete(f"/api/v1/payouts/{claim['id']}"),
    ):
        assert response.status_code == 404 and response.json()["code"] == "payout-not-found"
    assert APIClient().get("/api/v1/pull-payments/nope").json()["code"] == "pullpayment-not-found"


@pytest.mark.parametrize(
    ("withdrawal_status", "state"),
    [
        ("requested", "AwaitingPayment"),
        ("pending_review", "AwaitingPayment"),
        ("approved", "AwaitingPayment"),
        ("batched", "InProgress"),
        ("broadcast", "InProgress"),
        ("confirmed", "Completed"),
        ("rejected", "Cancelled"),
        ("failed", "Cancelled"),
    ],
)
def test_an_approved_payout_follows_its_withdrawal(withdrawal_status: str, state: str) -> None:
    from merchants.models import PayoutState, PullPaymentPayout
    from merchants.services.payout_states import payout_state

    approved = PullPaymentPayout(state=PayoutState.AWAITING_PAYMENT)
    assert payout_state(approved, withdrawal_status) == state
    waiting = PullPaymentPayout(state=PayoutState.AWAITING_APPROVAL)
    assert payout_state(waiting, withdrawal_status) == "AwaitingApproval"
