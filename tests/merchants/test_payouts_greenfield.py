"""Greenfield payouts: the store's own, general pull payments, BTCPay's states and codes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.selectors import ledger_check
from custody.models import Withdrawal
from merchants.errors import ClaimOverdraft
from merchants.models import Merchant, PullPaymentPayout, WebhookDelivery
from merchants.services.keys import SCOPE_CREATE_REFUND_PULL, SCOPE_VIEW_PAYOUTS
from merchants.services.pull_payments import payout_create
from tests.compliance.conftest import regtest_address
from tests.conftest import fund
from tests.merchants.conftest import Greenfield, allow_list, owner_verified, problems, store_url
from tests.merchants.test_funds import ADDRESS

pytestmark = pytest.mark.django_db

OTHER = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"  # valid, never allow-listed


def _error(response: Any, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.content


def _pull(api: APIClient, merchant: Merchant, **body: Any) -> Any:
    return api.post(
        store_url(merchant, "pull-payments"),
        {"name": "Prize", "amount": "0.001", "currency": "BTC", **body},
        format="json",
    )


def _claim(pull_id: str, **body: Any) -> Any:
    return APIClient().post(
        f"/api/v1/pull-payments/{pull_id}/payouts", {"destination": ADDRESS, **body}, format="json"
    )


def _payout_data(greenfield: Greenfield, body: dict[str, Any]) -> None:
    """BTCPay's spec types ``pullPaymentId`` as a string; its server sends null for a store's
    own payout (as Alatau does). The rest is checked against ``PayoutData``."""
    if body.get("pullPaymentId") is None:
        body = {k: v for k, v in body.items() if k != "pullPaymentId"}
    greenfield.validate(body, "PayoutData")


@pytest.fixture
def ready(merchant: Merchant) -> Merchant:
    fund(merchant.btc_account, 500_000)
    allow_list(merchant, ADDRESS)
    owner_verified(merchant)
    return merchant


def test_store_payout_awaits_approval_then_pays_through_the_withdrawal_flow(
    api: APIClient, ready: Merchant, greenfield: Greenfield
) -> None:
    api.post(store_url(ready, "webhooks"), {"url": "https://shop.example/h"}, format="json")
    created = api.post(
        store_url(ready, "payouts"),
        {"destination": ADDRESS, "amount": "0.001", "metadata": {"source": "shop"}},
        format="json",
    )
    assert created.status_code == 200, created.content
    body = created.json()
    _payout_data(greenfield, body)
    assert (body["state"], body["pullPaymentId"], body["payoutAmount"]) == (
        "AwaitingApproval",
        None,
        None,
    )
    assert body["metadata"] == {"source": "shop"} and body["payoutMethodId"] == "BTC-CHAIN"
    assert not Withdrawal.objects.exists()  # nothing moves before approval
    got = api.get(f"/api/v1/stores/{ready.store_id}/payouts/{body['id']}")  # store-scoped form
    assert got.json() == body
    approved = api.post(f"/api/v1/payouts/{body['id']}", {"revision": 0}, format="json")
    assert approved.status_code == 200, approved.content
    _payout_data(greenfield, approved.json())
    assert approved.json()["state"] == "AwaitingPayment"
    withdrawal = Withdrawal.objects.get(pk=approved.json()["withdrawalId"])
    assert (withdrawal.amount_sats, withdrawal.address) == (100_000, ADDRESS)
    types = [json.loads(d.body)["type"] for d in WebhookDelivery.objects.order_by("created_at")]
    assert types == ["PayoutCreated", "PayoutApproved"]
    # Cancel while the bank has not batched it: the withdrawal is cancelled, the hold freed.
    cancelled = api.delete(f"/api/v1/payouts/{body['id']}")
    assert cancelled.json()["state"] == "Cancelled"
    withdrawal.refresh_from_db()
    assert withdrawal.status == "cancelled"
    ready.btc_account.refresh_from_db()
    assert ready.btc_account.available_minor == 500_000
    assert api.get(store_url(ready, "payouts")).json() == []
    listed = api.get(store_url(ready, "payouts") + "?includeCancelled=true").json()
    assert [p["id"] for p in listed] == [body["id"]]
    assert ledger_check() == []


def test_approve_and_mark_follow_btcpays_state_rules(api: APIClient, ready: Merchant) -> None:
    url = store_url(ready, "payouts")
    first = api.post(url, {"destination": ADDRESS, "amount": "0.001"}, format="json").json()
    pid = first["id"]
    _error(api.post(f"/api/v1/payouts/{pid}", {"revision": 3}, format="json"), 400, "old-revision")
    assert "rateRule" in problems(
        api.post(f"/api/v1/payouts/{pid}", {"revision": 0, "rateRule": "kraken"}, format="json")
    )
    assert "state" in problems(
        api.post(f"/api/v1/payouts/{pid}/mark", {"state": "AwaitingApproval"}, format="json")
    )
    _error(api.post(f"/api/v1/payouts/{pid}/mark-paid"), 400, "invalid-state")  # not approved
    assert api.post(f"/api/v1/payouts/{pid}", {"revision": 0}, format="json").status_code == 200
    # The bank pays it: a store's word does not make it Completed (nor anything else).
    _error(api.post(f"/api/v1/payouts/{pid}/mark-paid"), 400, "invalid-state")
    for state in ("Completed", "Cancelled", "InProgress"):
        marked = api.post(f"/api/v1/payouts/{pid}/mark", {"state": state}, format="json")
        _error(marked, 400, "invalid-state")
    proof = {"proofType": "Note", "id": "call-42"}
    same = api.post(
        f"/api/v1/payouts/{pid}/mark",
        {"state": "AwaitingPayment", "paymentProof": proof},
        format="json",
    )
    assert same.status_code == 200 and same.json()["state"] == "AwaitingPayment"
    assert same.json()["paymentProof"] == proof
    allow_list(ready, OTHER)  # ADDRESS has an active payout: BTCPay's duplicate-destination
    second = api.post(url, {"destination": OTHER, "amount": "0.0005"}, format="json").json()
    api.delete(f"/api/v1/payouts/{second['id']}")
    again = api.post(f"/api/v1/payouts/{second['id']}", {"revision": 0}, format="json")
    _error(again, 400, "invalid-state")  # a cancelled payout is never approved
    _error(api.get("/api/v1/payouts/nope"), 404, "payout-not-found")
    assert Withdrawal.objects.count() == 1
    assert ledger_check() == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"currency": "KZT"}, "currency"),
        ({"currency": ""}, "currency"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"autoApproveClaims": True}, "autoApproveClaims"),
        ({"BOLT11Expiration": "10"}, "BOLT11Expiration"),
        ({"period": 604800}, "period"),
        ({"payoutMethods": ["BTC-LN"]}, "payoutMethods[0]"),
        ({"startsAt": 2000000000, "expiresAt": 1900000000}, "expiresAt"),
        ({"expiresAt": 10**20}, "expiresAt"),
    ],
)
def test_pull_payment_options_are_honoured_or_refused(
    api: APIClient, merchant: Merchant, body: dict[str, Any], path: str
) -> None:
    assert path in problems(_pull(api, merchant, **body))
    assert not merchant.pull_payments.exists()


def test_pull_payment_window_archive_and_methods(
    api: APIClient, merchant: Merchant, greenfield: Greenfield
) -> None:
    now = int(time.time())
    created = _pull(api, merchant, payoutMethods=["BTC-CHAIN"], BOLT11Expiration=30)
    assert created.status_code == 200, created.content
    pull = created.json()
    greenfield.validate(pull, "PullPaymentData")
    assert pull["viewLink"] == f"http://testserver/pull-payments/{pull['id']}"
    later = _pull(api, merchant, startsAt=now + 3600).json()
    _error(_claim(later["id"]), 400, "not-started")
    gone = _pull(api, merchant, startsAt=now - 7200, expiresAt=now - 3600).json()
    _error(_claim(gone["id"]), 400, "expired")
    _error(_claim(pull["id"], payoutMethodId="BTC-LN"), 400, "payment-method-not-supported")
    assert "payoutMethodId" in problems(_claim(pull["id"], payoutMethodId="???"))
    assert "amount" in problems(_claim(pull["id"], amount="0"))
    waiting = _claim(pull["id"], amount="0.0004").json()
    _error(_claim(pull["id"], amount="0.0007"), 400, "overdraft")
    archived = api.delete(store_url(merchant, f"pull-payments/{pull['id']}"))
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert PullPaymentPayout.objects.get(pk=waiting["id"]).state == "Cancelled"
    _error(_claim(pull["id"]), 400, "archived")
    listed = {p["id"] for p in api.get(store_url(merchant, "pull-payments")).json()}
    assert pull["id"] not in listed and later["id"] in listed
    everything = api.get(store_url(merchant, "pull-payments") + "?includeArchived=true").json()
    assert pull["id"] in {p["id"] for p in everything}


@pytest.mark.insider
def test_a_key_cannot_pay_outside_the_allow_list_through_a_pull_payment(
    api: APIClient, ready: Merchant
) -> None:
    """A stolen key makes a pull payment and claims it to its own address: approval refuses."""
    pull = _pull(api, ready, amount="0.002").json()
    claim = _claim(pull["id"], destination=OTHER).json()
    refused = api.post(f"/api/v1/payouts/{claim['id']}", {"revision": 0}, format="json")
    assert (
        "Pay out only to an address on the store's allow-list" in problems(refused)["destination"]
    )
    own = api.post(
        store_url(ready, "payouts"),
        {"destination": OTHER, "amount": "0.001", "approved": True},
        format="json",
    )
    assert "destination" in problems(own)
    assert not Withdrawal.objects.exists()
    assert PullPaymentPayout.objects.get(pk=claim["id"]).state == "AwaitingApproval"
    ready.btc_account.refresh_from_db()
    assert ready.btc_account.available_minor == 500_000
    call_command("ledger_check")


@pytest.mark.insider
def test_a_key_without_the_money_permission_cannot_approve_at_creation(
    ready: Merchant, make_client: Callable[..., APIClient]
) -> None:
    weak = make_client(ready, [SCOPE_CREATE_REFUND_PULL, SCOPE_VIEW_PAYOUTS])
    body = {"destination": ADDRESS, "amount": "0.001", "approved": True}
    denied = weak.post(store_url(ready, "payouts"), body, format="json")
    assert denied.status_code == 403
    assert denied.json()["missingPermission"] == "btcpay.store.cancreatepullpayments"
    waiting = weak.post(store_url(ready, "payouts"), {**body, "approved": False}, format="json")
    assert waiting.json()["state"] == "AwaitingApproval"
    approve = weak.post(f"/api/v1/payouts/{waiting.json()['id']}", {"revision": 0}, format="json")
    assert approve.status_code == 403
    assert not Withdrawal.objects.exists()


def test_a_refused_approval_at_creation_leaves_no_payout(api: APIClient, ready: Merchant) -> None:
    api.post(store_url(ready, "webhooks"), {"url": "https://shop.example/h"}, format="json")
    body = {"destination": ADDRESS, "amount": "0.009", "approved": True}  # more than it has
    refused = api.post(store_url(ready, "payouts"), body, format="json")
    assert refused.status_code == 422 and refused.json()[0]["code"] == "insufficient-funds"
    assert not PullPaymentPayout.objects.exists() and not Withdrawal.objects.exists()
    assert not WebhookDelivery.objects.exists()  # no PayoutCreated for what was not made


def test_the_web_doors_payout_is_a_greenfield_payout(api: APIClient, ready: Merchant) -> None:
    from merchants.services.payouts import merchant_payout_request

    payout = merchant_payout_request(
        merchant=ready, amount_sats=100_000, address=ADDRESS, actor=ready.owner
    )
    (listed,) = api.get(store_url(ready, "payouts")).json()
    assert (listed["withdrawalId"], listed["state"]) == (payout.withdrawal_id, "AwaitingPayment")


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_exceed_the_pull_payment(merchant: Merchant) -> None:
    from merchants.services.pull_payments import pull_payment_create
    from tests.conftest import run_threads

    pull = pull_payment_create(
        merchant=merchant, name="Prize", description="", amount="0.001", currency="BTC",
        starts_at=None, expires_at=None, payout_methods=None, actor=merchant.owner,
    )  # fmt: skip

    def claim(i: int) -> PullPaymentPayout:
        # Six destinations: one destination has one active payout (duplicate-destination).
        return payout_create(
            pull_payment_id=pull.id, merchant=None, destination=regtest_address(i + 1),
            amount="0.0004", payout_method=None,
        )  # fmt: skip

    results = run_threads(6, claim)
    done = [r for r in results if isinstance(r, PullPaymentPayout)]
    refused = [r for r in results if not isinstance(r, PullPaymentPayout)]
    assert len(done) == 2, results
    assert all(isinstance(r, ClaimOverdraft) for r in refused), refused
    assert sum(r.amount_sats for r in pull.payouts.all()) == 80_000
    assert ledger_check() == []


def test_store_payouts_need_a_key(merchant: Merchant) -> None:
    body = {"destination": ADDRESS, "amount": "0.001", "approved": True}
    for response in (
        APIClient().post(store_url(merchant, "payouts"), body, format="json"),
        APIClient().get(store_url(merchant, "payouts")),
        APIClient().delete(f"/api/v1/pull-payments/{'x' * 22}"),
    ):
        assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert not PullPaymentPayout.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_older_payouts_their_greenfield_row(ready: Merchant) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from merchants.services.payouts import merchant_payout_request

    payout = merchant_payout_request(
        merchant=ready, amount_sats=100_000, address=ADDRESS, actor=ready.owner
    )
    PullPaymentPayout.objects.filter(payout=payout).delete()  # as before the migration
    executor = MigrationExecutor(connection)
    executor.migrate([("merchants", "0005_merge_i18n")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    # Forward to every app's newest migration: going back also unapplied the later ones.
    executor.migrate(executor.loader.graph.leaf_nodes())
    row = PullPaymentPayout.objects.get(payout=payout)
    assert (row.merchant_id, row.amount_sats, row.state) == (ready.pk, 100_000, "AwaitingPayment")
