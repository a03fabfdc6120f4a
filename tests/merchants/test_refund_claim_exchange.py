"""Greenfield refunds (pull payments) of invoices settled to KZT: a paid claim buys its BTC back.

The store holds tenge, so approving a claim on the refund's pull payment first buys the
claim's amount plus the withdrawal fee at the bank's ask (tiyn rounded up), once per
payout, in the approval's transaction; a short KZT balance refuses it, writing nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from embit import bech32
from rest_framework.test import APIClient

from accounts.errors import InsufficientFunds
from accounts.models import Account, Transfer
from accounts.selectors import ledger_check
from audit.models import AuditEvent
from custody.models import Withdrawal
from exchange.models import ExchangeRate
from merchants.errors import PayoutInvalidState
from merchants.models import (
    Invoice,
    Merchant,
    Payout,
    PayoutState,
    PullPaymentPayout,
    RefundKztExchange,
)
from merchants.services.payout_states import payout_approve, store_payout_create
from merchants.services.pull_payments import invoice_refund_pull_payment, payout_create
from tests.conftest import fund, rate_feed, run_threads
from tests.merchants.conftest import allow_list, owner_verified, problems
from tests.merchants.test_refund_exchange import ADDRESS, ASK, settled
from tests.merchants.test_web_settlement import MID, SPREAD_BP, balances

pytestmark = pytest.mark.django_db


@pytest.fixture
def rate() -> ExchangeRate:
    return rate_feed(MID, SPREAD_BP)


def cost_tiyn(sats: int) -> int:
    """What ``sats`` cost at the ask, the tiyn rounded up."""
    return -(-sats * ASK // 100_000_000)


def fee() -> int:
    return int(settings.WITHDRAWAL_FEE_SATS)


def refund_pull(store: Merchant, invoice: Invoice) -> str:
    pull = invoice_refund_pull_payment(
        merchant=store, invoice_id=invoice.id, variant="RateThen", actor=store.owner
    )
    return str(pull.id)


def payee(i: int) -> str:
    """The i-th address of the payer's own: one active payout per destination (BTCPay)."""
    return bech32.encode("bcrt", 0, bytes([100 + i]) * 20)


def claim(pull_id: str, amount: str | None = None) -> dict[str, Any]:
    body = {"destination": ADDRESS, **({"amount": amount} if amount else {})}
    response = APIClient().post(f"/api/v1/pull-payments/{pull_id}/payouts", body, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_approving_a_claim_buys_its_amount_and_fee_at_the_ask_once(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any, api: APIClient
) -> None:
    owner_verified(kzt_store)
    invoice = settled(kzt_store, payer, "45000.00")  # 100 000 sats; 45 000.00 KZT held
    response = api.post(
        f"/api/v1/invoices/{invoice.id}/refund", {"refundVariant": "RateThen"}, format="json"
    )
    assert response.status_code == 200, response.content
    payout = claim(response.json()["id"], "0.0005")
    assert not RefundKztExchange.objects.exists()  # a claim moves no money
    approved = api.post(f"/api/v1/payouts/{payout['id']}", {"revision": 0}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "AwaitingPayment"
    exchange = RefundKztExchange.objects.get(payout_id=payout["id"])
    need = 50_000 + fee()
    assert (exchange.refund_id, exchange.amount_sats, exchange.rate_tiyn_per_btc) == (
        None,
        need,
        ASK,
    )
    assert exchange.kzt_tiyn == cost_tiyn(need)
    legs = Transfer.objects.filter(group_id=exchange.group_id).order_by("pk")
    assert [(t.code, t.currency, t.amount_minor) for t in legs] == [
        ("exchange", "KZT", cost_tiyn(need)),
        ("exchange", "BTC", need),
    ]
    withdrawal = Withdrawal.objects.get(account=kzt_store.btc_account)
    assert (withdrawal.amount_sats, withdrawal.fee_sats, withdrawal.address) == (
        50_000,
        fee(),
        ADDRESS,
    )
    btc = Account.objects.get(pk=kzt_store.btc_account_id)
    assert (btc.posted_minor, btc.held_minor) == (need, need)  # bought, and held to send
    assert balances(kzt_store)[1] == 4_500_000 - cost_tiyn(need)
    again = api.post(
        f"/api/v1/payouts/{payout['id']}", {"revision": 0}, format="json",
        HTTP_IDEMPOTENCY_KEY="second-approval",
    )  # fmt: skip
    assert (again.status_code, again.json()["code"]) == (400, "invalid-state")
    assert RefundKztExchange.objects.count() == 1 and Withdrawal.objects.count() == 1
    event = AuditEvent.objects.get(action="invoice.refund_kzt_exchange")
    assert (event.data["payout"], event.data["kzt_tiyn"]) == (payout["id"], cost_tiyn(need))
    assert ledger_check() == []


def test_a_short_kzt_balance_refuses_the_approval_and_writes_nothing(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any, api: APIClient
) -> None:
    owner_verified(kzt_store)
    invoice = settled(kzt_store, payer)  # 2223 sats; the store holds 1000.00 KZT
    payout = claim(refund_pull(kzt_store, invoice))  # all 2223 sats
    need = 2223 + fee()
    short = api.post(f"/api/v1/payouts/{payout['id']}", {"revision": 0}, format="json")
    message = problems(short)["amount"]  # Greenfield's 422 list, naming both figures
    assert f"{cost_tiyn(need) // 100}.{cost_tiyn(need) % 100:02d} KZT" in message, message
    assert "1000.00 KZT" in message and "settled to KZT" in message
    assert short.json()[0]["code"] == "insufficient-funds"
    row = PullPaymentPayout.objects.get(pk=payout["id"])
    assert (row.state, row.revision, row.payout_id) == (PayoutState.AWAITING_APPROVAL, 0, None)
    assert not RefundKztExchange.objects.exists() and not Withdrawal.objects.exists()
    assert not Payout.objects.exists()
    assert balances(kzt_store) == (0, 100_000)
    fund(Account.objects.get(pk=int(kzt_store.kzt_account_id or 0)), cost_tiyn(need) - 100_000)
    paid = api.post(f"/api/v1/payouts/{payout['id']}", {"revision": 0}, format="json")
    assert paid.status_code == 200, paid.content  # topped up to the tiyn: it goes through
    assert balances(kzt_store) == (need, 0)
    assert ledger_check() == []


def test_a_general_pull_payment_of_a_kzt_store_still_pays_from_its_btc(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any, api: APIClient
) -> None:
    owner_verified(kzt_store)
    settled(kzt_store, payer)
    body = {"destination": ADDRESS, "amount": "0.0001", "approved": True}
    allow_list(kzt_store, ADDRESS)
    refused = api.post(f"/api/v1/stores/{kzt_store.store_id}/payouts", body, format="json")
    assert refused.status_code == 422, refused.content  # no bitcoin, and none is bought
    assert "KZT" not in json.dumps(refused.json())
    assert not RefundKztExchange.objects.exists()
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_paid_claims_never_buy_more_than_the_tenge_or_the_refund(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    owner_verified(kzt_store)
    invoice = settled(kzt_store, payer, "45000.00")  # 100 000 sats; 45 000.00 KZT
    pull_id = refund_pull(kzt_store, invoice)
    each = 20_000 + fee()
    # The refund allows five claims of 20 000 sats; the tenge buys back fewer of them.
    bought = min(5, 4_500_000 // cost_tiyn(each))
    assert bought < 5

    def paid_claim(i: int) -> Any:
        return store_payout_create(
            merchant=kzt_store, destination=payee(i), amount="0.0002", payout_method=None,
            pull_payment_id=pull_id, approved=True, metadata=None, travel_rule=None,
            actor=kzt_store.owner, client_address=None,
        )  # fmt: skip

    results = run_threads(6, paid_claim)
    made = [r for r in results if isinstance(r, PullPaymentPayout)]
    short = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(made), len(short)) == (bought, 6 - bought), results
    assert all(r.state == PayoutState.AWAITING_PAYMENT for r in made)
    assert RefundKztExchange.objects.count() == bought
    assert PullPaymentPayout.objects.count() == bought  # a refused one left no claim
    assert balances(kzt_store) == (bought * each, 4_500_000 - bought * cost_tiyn(each))
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_of_one_claim_buy_once(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    owner_verified(kzt_store)
    invoice = settled(kzt_store, payer, "45000.00")
    row = payout_create(
        pull_payment_id=refund_pull(kzt_store, invoice), merchant=None, destination=ADDRESS,
        amount="0.0003", payout_method=None,
    )  # fmt: skip

    def approve(i: int) -> Any:
        return payout_approve(
            merchant=kzt_store, payout_id=row.id, revision=0, actor=kzt_store.owner,
            client_address=None,
        )  # fmt: skip

    results = run_threads(4, approve)
    done = [r for r in results if isinstance(r, PullPaymentPayout)]
    refused = [r for r in results if isinstance(r, PayoutInvalidState)]
    assert (len(done), len(refused)) == (1, 3), results
    exchange = RefundKztExchange.objects.get()
    assert (exchange.payout_id, exchange.amount_sats) == (row.id, 30_000 + fee())
    assert Withdrawal.objects.count() == 1
    assert balances(kzt_store)[1] == 4_500_000 - cost_tiyn(30_000 + fee())
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_of_claims_never_spend_more_tenge_than_the_store_has(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    owner_verified(kzt_store)
    invoice = settled(kzt_store, payer, "45000.00")  # 100 000 sats; 45 000.00 KZT
    pull_id = refund_pull(kzt_store, invoice)
    claim: dict[str, Any] = {"merchant": None, "amount": "0.0002", "payout_method": None}
    rows = [payout_create(pull_payment_id=pull_id, destination=payee(i), **claim) for i in range(5)]
    each = 20_000 + fee()
    bought = 4_500_000 // cost_tiyn(each)
    assert bought < 5  # the tenge, not the refund, is what runs out

    def approve(i: int) -> Any:
        return payout_approve(
            merchant=kzt_store, payout_id=rows[i].id, revision=0, actor=kzt_store.owner,
            client_address=None,
        )  # fmt: skip

    results = run_threads(5, approve)
    done = [r for r in results if isinstance(r, PullPaymentPayout)]
    short = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(done), len(short)) == (bought, 5 - bought), results
    assert RefundKztExchange.objects.count() == bought == Withdrawal.objects.count()
    assert balances(kzt_store) == (bought * each, 4_500_000 - bought * cost_tiyn(each))
    assert ledger_check() == []
