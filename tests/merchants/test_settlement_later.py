"""Later payments to an invoice already settled to KZT: one exchange each, never twice."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, TestCase

from accounts.models import Transfer, User
from accounts.selectors import ledger_check
from custody.models import Deposit, DepositAddress, DepositStatus
from exchange.models import ExchangeRate
from merchants.models import Invoice, InvoicePayment, KztPaymentSettlement, KztSettlement, Merchant
from merchants.services.payments import invoice_deposit_listener
from merchants.services.settlement import (
    invoice_settle_to_kzt,
    kzt_settlements_due,
    merchant_set_settle_to_kzt,
)
from tests.conftest import fund, rate_feed, run_threads
from tests.merchants.test_web_settlement import (
    MID,
    SPREAD_BP,
    _outpoints,
    attach_address,
    balances,
    credit,
    kzt_invoice,
)

pytestmark = pytest.mark.django_db

BID = MID * (10_000 - SPREAD_BP) // 10_000


@pytest.fixture
def rate(make_user: Callable[..., User]) -> ExchangeRate:
    return rate_feed(MID, SPREAD_BP)


def deposit(address: DepositAddress, sats: int, *, seen_at: Any = None, settle: bool = True) -> Any:
    """Record a credited payment to ``address`` (``settle``: run the after-commit exchange)."""
    fund(address.account, sats)
    row = Deposit.objects.create(
        txid=f"{next(_outpoints):064x}",
        vout=0,
        address=address.address,
        deposit_address=address,
        amount_sats=sats,
        confirmations=3,
        status=DepositStatus.CREDITED,
    )
    if seen_at is not None:  # the node saw it then (``seen_at`` is set on insert)
        Deposit.objects.filter(pk=row.pk).update(seen_at=seen_at)
        row.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=settle):
        invoice_deposit_listener(row)
    return row


def settled_on_chain(store: Merchant) -> tuple[Invoice, DepositAddress]:
    invoice = kzt_invoice(store, "450.00")  # 1000 sats at the quote, exactly
    address = attach_address(invoice)
    credit(address, 1000)
    assert balances(store) == (0, 45_000)
    assert KztSettlement.objects.get(invoice=invoice).amount_sats == 1000
    return invoice, address


def exchange_legs(booking: KztPaymentSettlement) -> list[tuple[str, str, int]]:
    legs = Transfer.objects.filter(group_id=booking.group_id).order_by("pk")
    return [(t.code, t.currency, t.amount_minor) for t in legs]


def test_overpayment_in_time_settles_at_the_quote_even_if_the_rate_moved(
    rate: ExchangeRate, kzt_store: Merchant
) -> None:
    invoice, address = settled_on_chain(kzt_store)
    rate_feed(MID // 2, SPREAD_BP)  # the market halves: the quote still holds until expiry
    second = deposit(address, 501)
    booking = KztPaymentSettlement.objects.get()
    assert booking.payment.deposit_id == second.pk
    # 501 sats over the amount due at 45 000 000.00: 225.45 KZT, rounded down.
    assert (booking.rate_source, booking.rate_tiyn_per_btc) == ("quote", MID)
    assert (booking.amount_sats, booking.kzt_tiyn) == (501, 22_545)
    assert exchange_legs(booking) == [("exchange", "BTC", 501), ("exchange", "KZT", 22_545)]
    assert balances(kzt_store) == (0, 67_545)
    # The first payment belongs to the invoice's settlement, the second to its own.
    first = InvoicePayment.objects.get(invoice=invoice, kzt_settlement__isnull=False)
    assert first.amount_sats == 1000
    assert ledger_check() == []


def test_late_payment_after_the_quote_expired_settles_at_the_bid_rate(
    rate: ExchangeRate, kzt_store: Merchant
) -> None:
    invoice, address = settled_on_chain(kzt_store)
    deposit(address, 2000, seen_at=invoice.expires_at + timedelta(minutes=1))
    booking = KztPaymentSettlement.objects.get()
    assert booking.payment.after_expiration
    assert (booking.rate_source, booking.rate_tiyn_per_btc) == ("market", BID)
    assert booking.kzt_tiyn == 2000 * BID // 100_000_000 == 89_100
    assert balances(kzt_store) == (0, 45_000 + 89_100)
    assert ledger_check() == []


def test_a_rescan_and_a_retry_never_convert_twice(rate: ExchangeRate, kzt_store: Merchant) -> None:
    invoice, address = settled_on_chain(kzt_store)
    second = deposit(address, 700, settle=False)  # the after-commit exchange did not run
    assert balances(kzt_store) == (700, 45_000)
    assert not KztPaymentSettlement.objects.exists()
    assert kzt_settlements_due() == 1  # the sweep books it
    assert balances(kzt_store) == (0, 45_000 + 31_500)
    with TestCase.captureOnCommitCallbacks(execute=True):
        invoice_deposit_listener(second)  # a rescan of the same output
    assert invoice_settle_to_kzt(invoice_id=invoice.id) is not None
    assert kzt_settlements_due() == 0
    assert KztPaymentSettlement.objects.count() == 1
    assert Transfer.objects.filter(code="exchange").count() == 4
    assert balances(kzt_store) == (0, 76_500)
    assert ledger_check() == []


def test_a_store_that_turned_the_setting_off_keeps_later_bitcoin(
    rate: ExchangeRate, kzt_store: Merchant
) -> None:
    _, address = settled_on_chain(kzt_store)
    merchant_set_settle_to_kzt(merchant=kzt_store, enabled=False, actor=kzt_store.owner)
    deposit(address, 300)
    assert kzt_settlements_due() == 0
    assert not KztPaymentSettlement.objects.exists()
    assert balances(kzt_store) == (300, 45_000)
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_book_one_exchange_per_payment(
    rate: ExchangeRate, kzt_store: Merchant
) -> None:
    invoice, address = settled_on_chain(kzt_store)
    deposit(address, 400, settle=False)
    deposit(address, 600, settle=False)

    def settle(i: int) -> Any:
        return kzt_settlements_due() if i % 2 else invoice_settle_to_kzt(invoice_id=invoice.id)

    results = run_threads(8, settle)
    assert all(isinstance(r, (int, KztSettlement)) for r in results), results
    assert KztPaymentSettlement.objects.count() == 2
    assert Transfer.objects.filter(code="exchange").count() == 6
    assert balances(kzt_store) == (0, 45_000 + 18_000 + 27_000)
    assert ledger_check() == []


def test_csv_says_which_rate_exchanged_each_payment(
    rate: ExchangeRate, kzt_store: Merchant
) -> None:
    invoice, address = settled_on_chain(kzt_store)
    deposit(address, 501)
    deposit(address, 2000, seen_at=invoice.expires_at + timedelta(minutes=1))
    owner = Client()
    owner.force_login(kzt_store.owner)
    response = owner.get("/merchant/invoices/export.csv")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    cells = sorted(
        (r["amount_btc"], r["payment_kzt_booking"], r["payment_kzt_rate"], r["payment_kzt_amount"])
        for r in rows
    )
    assert cells == sorted(
        [
            ("0.00001000", "invoice", "", ""),
            ("0.00000501", "quote", "45000000.00", "225.45"),
            ("0.00002000", "market", "44550000.00", "891.00"),
        ]
    ), cells
    assert {r["settled_to_kzt_amount"] for r in rows} == {"450.00"}
    page = owner.get(f"/merchant/invoices/{invoice.id}/").content.decode()
    assert page.count('data-testid="kzt-later"') == 2
