"""Guaranteed KZT price: a settled invoice's bitcoin exchanged to KZT once, in the bank's favour."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import TestCase
from django.utils import timezone

from accounts.models import Account, Transfer, User
from accounts.selectors import ledger_check
from custody.models import AddressPurpose, Deposit, DepositAddress, DepositStatus
from exchange.models import ExchangeRate
from merchants.models import Invoice, KztSettlement, Merchant
from merchants.services.invoices import invoice_create, invoice_expire_due
from merchants.services.payments import invoice_deposit_listener, invoice_pay_in_bank
from merchants.services.settlement import (
    invoice_settle_to_kzt,
    kzt_settlements_due,
    merchant_set_settle_to_kzt,
    quoted_kzt_tiyn,
)
from tests.conftest import fund, rate_feed, run_threads

pytestmark = pytest.mark.django_db

MID = 45_000_000_00  # 45 000 000.00 KZT per BTC, in tiyn
SPREAD_BP = 100
_outpoints = itertools.count(1)


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user(is_staff=True)


@pytest.fixture
def rate(staff: User) -> ExchangeRate:
    return rate_feed(MID, SPREAD_BP)


def balances(merchant: Merchant) -> tuple[int, int]:
    merchant.refresh_from_db()
    btc = Account.objects.get(pk=merchant.btc_account_id).posted_minor
    kzt = (
        Account.objects.get(pk=merchant.kzt_account_id).posted_minor
        if merchant.kzt_account_id
        else 0
    )
    return btc, kzt


def pay(**kwargs: Any) -> Any:
    """Pay in-bank; the KZT settlement runs after the payment commits (its own transaction)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return invoice_pay_in_bank(**kwargs)


def kzt_invoice(merchant: Merchant, amount: str = "1000.00", **checkout: Any) -> Invoice:
    return invoice_create(merchant=merchant, amount=amount, currency="KZT", checkout=checkout)


def test_in_bank_payment_settles_to_the_kzt_price_not_a_tiyn_more(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    user, wallet = payer
    invoice = kzt_invoice(kzt_store)
    # 1000.00 KZT at 45 000 000.00 is 2222.2 sats: the payer sends 2223 (rounded up).
    assert (invoice.amount_sats, invoice.rate_tiyn_per_btc) == (2223, MID)
    pay(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    # 2223 sats at the quote are 1000.35 KZT: the store gets its price, 1000.00.
    assert balances(kzt_store) == (0, 100_000)
    settlement = KztSettlement.objects.get(invoice=invoice)
    assert (settlement.amount_sats, settlement.kzt_tiyn) == (2223, 100_000)
    assert (settlement.quoted_sats, settlement.quote_rate_tiyn_per_btc) == (2223, MID)
    legs = Transfer.objects.filter(group_id=settlement.group_id).order_by("pk")
    assert [(t.code, t.currency, t.amount_minor) for t in legs] == [
        ("exchange", "BTC", 2223),
        ("exchange", "KZT", 100_000),
    ]
    assert ledger_check() == []


def test_settling_twice_books_one_exchange(
    rate: ExchangeRate, kzt_store: Merchant, payer: Any
) -> None:
    user, wallet = payer
    invoice = kzt_invoice(kzt_store)
    pay(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    first = KztSettlement.objects.get(invoice=invoice)
    assert invoice_settle_to_kzt(invoice_id=invoice.id) == first
    assert kzt_settlements_due() == 0
    assert KztSettlement.objects.count() == 1
    assert Transfer.objects.filter(code="exchange").count() == 2
    assert balances(kzt_store) == (0, 100_000)


def test_the_quote_holds_when_the_rate_moves_before_settlement(
    rate: ExchangeRate, staff: User, kzt_store: Merchant, payer: Any
) -> None:
    user, wallet = payer
    invoice = kzt_invoice(kzt_store, "45000.00")  # 100 000 sats at the quote
    rate_feed(MID // 2, SPREAD_BP)
    pay(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    assert balances(kzt_store) == (0, 4_500_000)  # the price, not half of it


def test_overpayment_excess_rounds_down(rate: ExchangeRate, merchant: Merchant) -> None:
    invoice = kzt_invoice(merchant)
    assert quoted_kzt_tiyn(sats=2223, invoice=invoice) == 100_000
    # 1 sat more is 45 tiyn at the quote; 2 sats 90.
    assert quoted_kzt_tiyn(sats=2224, invoice=invoice) == 100_045
    assert quoted_kzt_tiyn(sats=2225, invoice=invoice) == 100_090
    # Within tolerance, less than the amount: what it is worth, rounded down, never the price.
    assert quoted_kzt_tiyn(sats=2000, invoice=invoice) == 90_000
    assert quoted_kzt_tiyn(sats=2222, invoice=invoice) == 99_990


def attach_address(invoice: Invoice) -> DepositAddress:
    address = DepositAddress.objects.create(
        account=invoice.merchant.btc_account,
        address=f"bcrt1qsettle{invoice.id.lower()}{next(_outpoints)}",
        purpose=AddressPurpose.INVOICE,
        required_confirmations=invoice.required_confirmations,
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        deposit_address_id=address.pk, destination=address.address
    )
    invoice.refresh_from_db()
    return address


def credit(address: DepositAddress, sats: int) -> Deposit:
    """Record a credited on-chain payment as custody's scanner would (and its ledger credit)."""
    fund(address.account, sats)
    deposit = Deposit.objects.create(
        txid=f"{next(_outpoints):064x}",
        vout=0,
        address=address.address,
        deposit_address=address,
        amount_sats=sats,
        confirmations=3,
        status=DepositStatus.CREDITED,
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        invoice_deposit_listener(deposit)
    return deposit


def test_paid_late_after_the_quote_expired_settles_at_the_bid_rate(
    rate: ExchangeRate, kzt_store: Merchant
) -> None:
    invoice = kzt_invoice(kzt_store, "450.00")  # 1000 sats
    address = attach_address(invoice)
    assert invoice_expire_due(now=timezone.now() + timedelta(minutes=16)) == 1
    credit(address, 1000)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.additional_status) == ("Expired", "PaidLate")
    settlement = KztSettlement.objects.get(invoice=invoice)
    bid = MID * (10_000 - SPREAD_BP) // 10_000
    assert (settlement.quoted_sats, settlement.market_sats) == (0, 1000)
    assert settlement.market_rate_tiyn_per_btc == bid
    assert settlement.kzt_tiyn == 1000 * bid // 100_000_000 == 44_550
    assert balances(kzt_store) == (0, 44_550)
    assert ledger_check() == []


def test_partial_payment_of_an_expired_invoice_stays_in_btc(
    rate: ExchangeRate, kzt_store: Merchant
) -> None:
    invoice = kzt_invoice(kzt_store, "450.00")
    address = attach_address(invoice)
    credit(address, 400)
    assert invoice_expire_due(now=timezone.now() + timedelta(minutes=16)) == 1
    assert kzt_settlements_due() == 0
    assert not KztSettlement.objects.exists()
    assert balances(kzt_store) == (400, 0)


def test_btc_invoice_without_a_rate_waits_then_the_sweep_settles_it(
    staff: User, kzt_store: Merchant, payer: Any
) -> None:
    user, wallet = payer
    invoice = invoice_create(merchant=kzt_store, amount="0.00100000", currency="BTC")
    payment = pay(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    invoice.refresh_from_db()
    # No rate: the payment stands, the exchange is deferred.
    assert (invoice.status, payment.status) == ("Settled", "Settled")
    assert not KztSettlement.objects.exists()
    assert balances(kzt_store) == (100_000, 0)
    rate_feed(MID, SPREAD_BP)
    assert kzt_settlements_due() == 1
    bid = MID * (10_000 - SPREAD_BP) // 10_000
    assert balances(kzt_store) == (0, 100_000 * bid // 100_000_000)
    assert kzt_settlements_due() == 0
    assert ledger_check() == []


def test_a_store_without_the_setting_keeps_its_bitcoin(
    rate: ExchangeRate, merchant: Merchant, payer: Any
) -> None:
    user, wallet = payer
    invoice = kzt_invoice(merchant)
    pay(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    assert balances(merchant) == (2223, 0)
    assert invoice_settle_to_kzt(invoice_id=invoice.id) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_settlements_book_one_exchange(
    rate: ExchangeRate, merchant: Merchant, payer: Any
) -> None:
    user, wallet = payer
    invoice = kzt_invoice(merchant)
    pay(invoice_id=invoice.id, payer=user, account_id=wallet.pk)
    merchant_set_settle_to_kzt(merchant=merchant, enabled=True, actor=merchant.owner)
    results = run_threads(8, lambda i: invoice_settle_to_kzt(invoice_id=invoice.id))
    assert all(isinstance(r, KztSettlement) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Transfer.objects.filter(code="exchange").count() == 2
    assert balances(merchant) == (0, 100_000)
    assert ledger_check() == []
