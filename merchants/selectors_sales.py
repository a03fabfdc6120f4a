"""Reads for the merchant web door: dashboard figures, invoice search, CSV rows, payouts.

Every read is scoped to one merchant. KZT values of payments are the ledger's:
the KZT value stored on the transfer that credited the store, or the bank's
rate at that transfer's time (the rule of the bank's own reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Account, Transfer
from core.money import SATS_PER_BTC
from custody.models import Deposit, Withdrawal, WithdrawalStatus
from exchange.rates import kzt_per_btc_tiyn, kzt_value_tiyn
from merchants.models import (
    Invoice,
    InvoicePayment,
    InvoiceStatus,
    KztSettlement,
    Merchant,
    PaymentMethod,
    PaymentStatus,
    Payout,
    PayoutAddress,
    WebhookDelivery,
)

RECENT_MAX = 10
LIST_PAGE = 50
WITHDRAWAL_DONE = (WithdrawalStatus.CONFIRMED, WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED,
                   WithdrawalStatus.FAILED)  # fmt: skip


@dataclass(frozen=True)
class Balance:
    account: Account | None
    currency: str
    posted_minor: int
    held_minor: int
    kzt_tiyn: int

    @property
    def available_minor(self) -> int:
        return self.posted_minor - self.held_minor


@dataclass(frozen=True)
class Takings:
    count: int
    sats: int
    kzt_tiyn: int


def _balance(account: Account | None, currency: str) -> Balance:
    if account is None:
        return Balance(None, currency, 0, 0, 0)
    account.refresh_from_db(fields=["posted_minor", "held_minor", "status"])
    posted = int(account.posted_minor)
    kzt = (
        posted if currency == "KZT" else kzt_value_tiyn(amount_minor=max(posted, 0), currency="BTC")
    )
    return Balance(account, currency, posted, int(account.held_minor), kzt)


def store_balances(*, merchant: Merchant) -> list[Balance]:
    """Return the store's BTC and KZT balances, each with its KZT value now."""
    return [_balance(merchant.btc_account, "BTC"), _balance(merchant.kzt_account, "KZT")]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def store_takings(*, merchant: Merchant, since: datetime) -> Takings:
    """Return the settled payments since ``since``: count, satoshis and their KZT value."""
    payments = InvoicePayment.objects.filter(
        invoice__merchant=merchant, status=PaymentStatus.SETTLED, settled_at__gte=since
    )
    figures = payments.aggregate(n=Count("pk"), sats=Sum("amount_sats"))
    sats = int(figures["sats"] or 0)
    rate = kzt_per_btc_tiyn()
    return Takings(int(figures["n"] or 0), sats, sats * rate // SATS_PER_BTC)


def store_takings_periods(*, merchant: Merchant) -> dict[str, Takings]:
    today = timezone.localdate()
    return {
        "today": store_takings(merchant=merchant, since=_day_start(today)),
        "month": store_takings(merchant=merchant, since=_day_start(today.replace(day=1))),
    }


def recent_invoices(*, merchant: Merchant, limit: int = RECENT_MAX) -> list[Invoice]:
    return list(Invoice.objects.filter(merchant=merchant).order_by("-created_at", "-pk")[:limit])


@dataclass(frozen=True)
class PayoutRow:
    payout: Payout
    status: str

    @property
    def pending(self) -> bool:
        return self.status not in (*WITHDRAWAL_DONE, "completed")


def payout_rows(*, merchant: Merchant, limit: int = LIST_PAGE) -> list[PayoutRow]:
    """Return the store's payouts, newest first, each with its withdrawal's live status."""
    payouts = list(Payout.objects.filter(merchant=merchant).order_by("-created_at", "-pk")[:limit])
    ids = [p.withdrawal_id for p in payouts if p.withdrawal_id]
    live = dict(Withdrawal.objects.filter(pk__in=ids).values_list("pk", "status"))
    return [PayoutRow(p, live.get(p.withdrawal_id or 0, p.status)) for p in payouts]


def pending_payouts(*, merchant: Merchant) -> list[PayoutRow]:
    return [row for row in payout_rows(merchant=merchant) if row.pending]


def payout_addresses(*, merchant: Merchant) -> list[PayoutAddress]:
    return list(PayoutAddress.objects.filter(merchant=merchant, removed_at__isnull=True))


@dataclass(frozen=True)
class InvoiceFilter:
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    order_id: str = ""
    text: str = ""


def invoice_search(*, merchant: Merchant, filters: InvoiceFilter) -> QuerySet[Invoice]:
    """Return the store's invoices matching the filters, newest first."""
    query = Invoice.objects.filter(merchant=merchant).select_related("merchant")
    if filters.status in InvoiceStatus.values:
        query = query.filter(status=filters.status)
    if filters.date_from:
        query = query.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        query = query.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.order_id:
        query = query.filter(order_id=filters.order_id)
    if filters.text:
        text = filters.text
        query = query.filter(
            Q(pk=text)
            | Q(order_id__icontains=text)
            | Q(destination=text)
            | Q(payments__txid=text)
            | Q(metadata__itemDesc__icontains=text)
            | Q(metadata__buyerEmail__iexact=text)
        ).distinct()
    return query.order_by("-created_at", "-pk")


def payment_ledger_transfer(payment: InvoicePayment) -> Transfer | None:
    """Return the ledger transfer that credited the store for a payment (None until credited)."""
    if payment.method == PaymentMethod.BANK:
        return payment.transfer
    if payment.deposit_id is None:
        return None
    deposit = Deposit.objects.select_related("transfer").filter(pk=payment.deposit_id).first()
    return deposit.transfer if deposit is not None else None


@dataclass(frozen=True)
class PaymentValue:
    payment: InvoicePayment
    transfer: Transfer | None
    rate_tiyn_per_btc: int
    kzt_tiyn: int


def payment_value(payment: InvoicePayment) -> PaymentValue:
    """Return a payment's KZT value at the rate of the moment the store was credited."""
    transfer = payment_ledger_transfer(payment)
    at = transfer.created_at if transfer is not None else payment.received_at
    rate = kzt_per_btc_tiyn(at=at)
    if transfer is not None and transfer.kzt_value_tiyn is not None:
        kzt = int(transfer.kzt_value_tiyn)
    else:
        kzt = kzt_value_tiyn(amount_minor=payment.amount_sats, currency="BTC", at=at)
    return PaymentValue(payment, transfer, rate, kzt)


def invoice_detail(*, merchant: Merchant, invoice_id: str) -> dict[str, Any] | None:
    """Return an invoice with its payments (valued), deliveries, refunds and KZT settlement."""
    invoice = Invoice.objects.filter(merchant=merchant, pk=invoice_id).first()
    if invoice is None:
        return None
    payments = list(
        invoice.payments.select_related("transfer", "kzt_booking").order_by("received_at", "pk")
    )
    deliveries = list(
        WebhookDelivery.objects.filter(invoice=invoice, webhook__merchant=merchant)
        .select_related("webhook")
        .order_by("-created_at")[: RECENT_MAX * 5]
    )
    refunds = list(invoice.refunds.select_related("kzt_exchange").order_by("-created_at"))
    refunded = sum(r.amount_sats for r in refunds)
    return {
        "invoice": invoice,
        "payments": [payment_value(p) for p in payments],
        "deliveries": deliveries,
        "refunds": refunds,
        "refundable_sats": max(invoice.paid_sats - refunded, 0),
        "paid_in_bank": any(p.method == PaymentMethod.BANK for p in payments),
        "settlement": KztSettlement.objects.filter(invoice=invoice).first(),
    }
