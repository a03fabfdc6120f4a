"""PayoutUpdated as the bank's withdrawal moves on, once per change; the bank's txid as proof."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.selectors import ledger_check
from custody.models import Withdrawal, WithdrawalBatch, WithdrawalStatus
from custody.services.batches import (
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
)
from merchants.models import Merchant, PullPaymentPayout, WebhookDelivery
from merchants.services.payout_observer import payout_observe, payouts_observe
from tests.conftest import fund, run_threads
from tests.custody.conftest import Chain, chain, hot_funded, own_hot_wallet  # noqa: F401
from tests.merchants.conftest import Greenfield, allow_list, owner_verified, store_url
from tests.merchants.test_funds import ADDRESS

ONCHAIN = "PayoutTransactionOnChainBlob"


def _updates(payout_id: str) -> list[str]:
    """The ``payoutState`` of every PayoutUpdated delivery of ``payout_id``, oldest first."""
    bodies = [
        json.loads(d.body)
        for d in WebhookDelivery.objects.filter(event_type="PayoutUpdated").order_by("created_at")
    ]
    return [b["payoutState"] for b in bodies if b["payoutId"] == payout_id]


def moved_without_hook(withdrawal_id: int, status: str) -> None:
    """Move a withdrawal as custody would, without custody's hook (a change it missed).

    The batch row is only what the database's checks ask for: these tests never send it.
    """
    batch = WithdrawalBatch.objects.create(
        txid=f"{withdrawal_id:064x}", raw_tx="00", fee_sats=200, fee_rate_sat_vb=2, vsize=100
    )
    Withdrawal.objects.filter(pk=withdrawal_id).update(status=status, batch=batch, vout=0)


def _approved_payout(api: APIClient, merchant: Merchant, address: str) -> dict[str, Any]:
    fund(merchant.btc_account, 500_000)
    allow_list(merchant, address)
    owner_verified(merchant)
    api.post(store_url(merchant, "webhooks"), {"url": "https://shop.example/h"}, format="json")
    body = {"destination": address, "amount": "0.001", "approved": True}
    created = api.post(store_url(merchant, "payouts"), body, format="json")
    assert created.status_code == 200, created.content
    assert created.json()["state"] == "AwaitingPayment"
    return dict(created.json())


@pytest.mark.node
@pytest.mark.django_db(transaction=True)
def test_payout_updated_follows_the_withdrawal_once_per_state_and_shows_the_txid(
    chain: Chain,  # noqa: F811 - the fixtures imported above
    own_hot_wallet: str,  # noqa: F811
    hot_funded: Any,  # noqa: F811
    api: APIClient,
    merchant: Merchant,
    greenfield: Greenfield,
) -> None:
    hot_funded(2_000_000)
    payee = chain.new_funder_address()
    payout = _approved_payout(api, merchant, payee)
    pid, url = payout["id"], f"/api/v1/payouts/{payout['id']}"
    assert "paymentProof" not in payout and _updates(pid) == []

    batch = withdrawal_batch_create()  # custody's hook tells merchants after the commit
    assert batch is not None
    assert _updates(pid) == ["InProgress"]
    # Batched, not yet broadcast: the bank's txid is no proof yet; a store's claim of it
    # is refused.
    assert "paymentProof" not in api.get(url).json()
    early = {"proofType": ONCHAIN, "transactionId": batch.txid}
    refused = api.post(f"{url}/mark", {"state": "InProgress", "paymentProof": early}, format="json")
    assert refused.status_code == 422 and refused.json()[0]["path"] == "paymentProof"

    assert withdrawal_batch_broadcast() == 1
    chain.sync()
    assert _updates(pid) == ["InProgress"]  # broadcast is still InProgress: nothing new
    shown = api.get(url).json()
    greenfield.validate({k: v for k, v in shown.items() if k != "pullPaymentId"}, "PayoutData")
    assert shown["paymentProof"] == {
        "proofType": ONCHAIN, "transactionId": batch.txid, "candidates": [batch.txid],
        "link": None,
    }  # fmt: skip
    assert chain.client.call("getmempoolentry", batch.txid)  # the node has it
    wrong = {"proofType": ONCHAIN, "transactionId": "ab" * 32}
    bad = api.post(f"{url}/mark", {"state": "InProgress", "paymentProof": wrong}, format="json")
    assert [p["path"] for p in bad.json()] == ["paymentProof.transactionId"]
    right = {"proofType": ONCHAIN, "transactionId": batch.txid}
    ok = api.post(f"{url}/mark", {"state": "InProgress", "paymentProof": right}, format="json")
    assert ok.status_code == 200 and ok.json()["paymentProof"]["transactionId"] == batch.txid

    chain.mine(int(settings.WITHDRAWAL_CONFIRMATIONS))
    assert withdrawal_batch_confirm() == 1
    assert _updates(pid) == ["InProgress", "Completed"]
    assert api.get(url).json()["state"] == "Completed"
    # Observers that come later, the periodic one included, find nothing to send.
    assert payouts_observe() == 0
    assert _updates(pid) == ["InProgress", "Completed"]
    assert PullPaymentPayout.objects.get(pk=pid).notified_state == "Completed"
    assert ledger_check() == []


@pytest.mark.faults
@pytest.mark.django_db(transaction=True)
def test_concurrent_observers_send_each_change_once(api: APIClient, merchant: Merchant) -> None:
    """The hook missed the change (a raw update, as a crash after commit would): the
    periodic observers catch up, six at once, and the store hears of it once."""
    payout = _approved_payout(api, merchant, ADDRESS)
    row = PullPaymentPayout.objects.select_related("payout").get(pk=payout["id"])
    withdrawal_id = int(row.payout.withdrawal_id)  # type: ignore[union-attr, arg-type]
    moved_without_hook(withdrawal_id, WithdrawalStatus.BATCHED)  # no hook: nothing sent yet
    assert _updates(row.id) == []

    # Each of six observers of this one payout reads it and tries; one sends.
    sent = run_threads(6, lambda i: payout_observe(payout_id=row.id))
    assert sorted(sent) == [False] * 5 + [True], sent
    assert [payout_observe(payout_id=row.id), payouts_observe()] == [False, 0]  # repeated
    assert _updates(row.id) == ["InProgress"]
    Withdrawal.objects.filter(pk=withdrawal_id).update(status=WithdrawalStatus.FAILED)
    results = run_threads(6, lambda i: payouts_observe())
    assert sorted(results) == [0, 0, 0, 0, 0, 1], results
    assert [payouts_observe(), payouts_observe()] == [0, 0]  # repeated: nothing more
    assert _updates(row.id) == ["InProgress", "Cancelled"]
    assert api.get(f"/api/v1/payouts/{row.id}").json()["state"] == "Cancelled"


@pytest.mark.django_db(transaction=True)
def test_an_observed_payout_leaves_the_scan(
    api: APIClient, merchant: Merchant, django_assert_max_num_queries: Any
) -> None:
    """Told Completed, a payout is never locked or read again by the periodic run."""
    payout = _approved_payout(api, merchant, ADDRESS)
    row = PullPaymentPayout.objects.select_related("payout").get(pk=payout["id"])
    moved_without_hook(int(row.payout.withdrawal_id), WithdrawalStatus.CONFIRMED)  # type: ignore[union-attr, arg-type]
    assert payouts_observe() == 1
    # One query: the scan finds no open payout (the withdrawal statuses are not read).
    with django_assert_max_num_queries(2):
        assert payouts_observe() == 0
    assert _updates(row.id) == ["Completed"]


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_payout_sends_one_update(api: APIClient, merchant: Merchant) -> None:
    """The store's cancel sends PayoutUpdated itself; the withdrawal hook adds none."""
    payout = _approved_payout(api, merchant, ADDRESS)
    assert api.delete(f"/api/v1/payouts/{payout['id']}").json()["state"] == "Cancelled"
    assert payouts_observe() == 0
    assert _updates(payout["id"]) == ["Cancelled"]
