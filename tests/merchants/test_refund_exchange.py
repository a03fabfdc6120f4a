"""Refunds of invoices settled to KZT: the store's tenge buys the bitcoin back at the ask."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from embit import bech32
from rest_framework.test import APIClient

from accounts.errors import InsufficientFunds
from accounts.models import Account, Transfer, User
from accounts.selectors import ledger_check
from custody.models import Withdrawal
from exchange.errors import RateStale
from exchange.models import ExchangeRate
from merchants.models import Invoice, Merchant, Refund, RefundKztExchange
from merchants.services.refunds import invoice_refund
from tests.banking.conftest import enable_2fa, otp_code
from tests.conftest import fund, rate_feed, run_threads
from tests.merchants.conftest import store_url
from tests.merchants.test_web_settlement import MID, SPREAD_BP, balances, kzt_invoice, pay

pytestmark = pytest.mark.django_db

ASK = -(-MID * (10_000 + SPREAD_BP) // 10_000)  # 45 450 000.00 KZT per BTC
ADDRESS = bech32.encode("bcrt", 0, bytes(range(20)))


@pytest.fixture
def rate(make_user: Callable[..., User]) -> ExchangeRate:
    return rate_feed(MID, SPREAD_BP)


def settled(store: Merchant, payer: Any, amount: str = "1000.00") -> Invoice:
    user, wallet = payer
    invoice = kzt_invoice(store, amount)
    pay(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    assert balances(store)[0] == 0  # all of it in tenge
    return invoice


def test_in_bank_refund_buys_the_bitcoin_back_at_the_ask_rounded_up(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    _, wallet = payer
    invoice = settled(kzt_store, payer)  # 2223 sats; the store holds 1000.00 KZT
    wallet.refresh_from_db()
    before = wallet.posted_minor
    refund = invoice_refund(
        merchant=kzt_store, invoice_id=invoice.id, method="InBank", amount_sats=1001,
        actor=kzt_store.owner,
    )  # fmt: skip
    exchange = RefundKztExchange.objects.get(refund=refund)
    # 1001 sats at 45 450 000.00 are 454.9545 KZT: the store pays 454.96.
    assert (exchange.amount_sats, exchange.rate_tiyn_per_btc) == (1001, ASK)
    assert exchange.kzt_tiyn == 45_496
    legs = Transfer.objects.filter(group_id=exchange.group_id).order_by("pk")
    assert [(t.code, t.currency, t.amount_minor) for t in legs] == [
        ("exchange", "KZT", 45_496),
        ("exchange", "BTC", 1001),
    ]
    assert balances(kzt_store) == (0, 100_000 - 45_496)
    wallet.refresh_from_db()
    assert wallet.posted_minor == before + 1001
    assert ledger_check() == []


def test_refund_refused_when_the_kzt_balance_is_short(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    invoice = settled(kzt_store, payer)
    # The whole 2223 sats cost 1010.36 KZT at the ask: more than the 1000.00 received.
    with pytest.raises(InsufficientFunds) as caught:
        invoice_refund(
            merchant=kzt_store, invoice_id=invoice.id, method="InBank", amount_sats=None,
            actor=kzt_store.owner,
        )  # fmt: skip
    assert "1010.36" in caught.value.message and "1000.00" in caught.value.message
    assert not Refund.objects.exists() and not RefundKztExchange.objects.exists()
    assert balances(kzt_store) == (0, 100_000)
    fund(Account.objects.get(pk=int(kzt_store.kzt_account_id or 0)), 1036)  # the shop tops up
    refund = invoice_refund(
        merchant=kzt_store, invoice_id=invoice.id, method="InBank", amount_sats=None,
        actor=kzt_store.owner,
    )  # fmt: skip
    assert refund.amount_sats == 2223 and refund.kzt_exchange.kzt_tiyn == 101_036
    assert balances(kzt_store) == (0, 0)
    assert ledger_check() == []


def test_refund_refused_at_a_stale_rate(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any, settings: Any
) -> None:
    invoice = settled(kzt_store, payer)
    ExchangeRate.objects.update(created_at=timezone.now() - timedelta(days=2))
    with pytest.raises(RateStale):
        invoice_refund(
            merchant=kzt_store, invoice_id=invoice.id, method="InBank", amount_sats=1000,
            actor=kzt_store.owner,
        )  # fmt: skip
    assert not Refund.objects.exists()
    assert ledger_check() == []


def test_api_on_chain_refund_buys_the_amount_and_the_fee(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any, api: APIClient
) -> None:
    invoice = settled(kzt_store, payer, "45000.00")  # 100 000 sats; 45 000.00 KZT held
    url = store_url(kzt_store, f"invoices/{invoice.id}/refunds")
    body = {"method": "OnChain", "amount": "0.00050000", "address": ADDRESS}
    response = api.post(url, body, format="json")
    assert response.status_code == 200, response.content
    withdrawal = Withdrawal.objects.get(pk=response.json()["withdrawalId"])
    fee = int(settings.WITHDRAWAL_FEE_SATS)
    assert (withdrawal.amount_sats, withdrawal.fee_sats) == (50_000, fee)
    exchange = RefundKztExchange.objects.get()
    assert exchange.amount_sats == 50_000 + fee
    assert exchange.kzt_tiyn == -(-(50_000 + fee) * ASK // 100_000_000)
    btc = Account.objects.get(pk=kzt_store.btc_account_id)
    assert (btc.posted_minor, btc.held_minor) == (50_000 + fee, 50_000 + fee)
    assert balances(kzt_store)[1] == 4_500_000 - exchange.kzt_tiyn
    rest = api.post(url, {"method": "OnChain", "address": ADDRESS}, format="json")
    assert rest.status_code == 422 and "KZT" in rest.content.decode()  # 50 000 sats more: short
    assert Refund.objects.count() == 1
    assert ledger_check() == []


def test_web_refund_of_a_kzt_settled_invoice_with_the_owners_code(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    invoice = settled(kzt_store, payer)
    owner = Client()
    owner.force_login(kzt_store.owner)
    enable_2fa(kzt_store.owner)
    url = f"/merchant/invoices/{invoice.id}/"
    form = {"method": "InBank", "amount": "", "address": "", "otp_code": "000000"}
    page = owner.post(url, form).content.decode()
    # Short of tenge: said before any code is checked (the wrong code is not reported).
    assert "settled to KZT" in page and "This code is not valid" not in page
    response = owner.post(
        url, {**form, "amount": "0.00001000", "otp_code": otp_code(kzt_store.owner)}
    )
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_sats, refund.kzt_exchange.kzt_tiyn) == (1000, 45_450)
    detail = owner.get(url).content.decode()
    assert "454.50" in detail  # the tenge it took, on the detail page
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_spend_more_tenge_than_the_store_has(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    invoice = settled(kzt_store, payer, "45000.00")  # 100 000 sats; 45 000.00 KZT
    # 20 000 sats cost 9 090.00 KZT at the ask: the tenge buys back four, the cap allows five.

    def refund(i: int) -> Any:
        return invoice_refund(
            merchant=kzt_store, invoice_id=invoice.id, method="InBank", amount_sats=20_000,
            actor=kzt_store.owner,
        )  # fmt: skip

    results = run_threads(6, refund)
    made = [r for r in results if isinstance(r, Refund)]
    short = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(made), len(short)) == (4, 2), results
    assert RefundKztExchange.objects.count() == 4
    assert balances(kzt_store) == (0, 4_500_000 - 4 * 909_000)
    assert ledger_check() == []
