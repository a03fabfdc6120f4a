"""The store's invoices as CSV for its accountant: one row per payment, KZT as in the ledger.

A payment's KZT value is that of the ledger transfer that credited the store:
the value stored on the transfer, else the bank's mid rate in force when the
transfer was made (``exchange.rates``' rule). Rates and deposits are read in
batches, so the export makes a bounded number of queries per 500 invoices.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from accounts.models import Transfer
from core.errors import ServiceUnavailable
from core.money import SATS_PER_BTC, format_amount
from custody.models import Deposit
from exchange.models import ExchangeRate
from merchants.models import Invoice, InvoicePayment, Merchant, PaymentMethod
from merchants.selectors_sales import InvoiceFilter, invoice_search

CSV_ROWS_MAX = 50_000
CHUNK = 500
CSV_HEADER = [
    "invoice_id", "created", "status", "additional_status", "order_id", "currency", "amount",
    "invoice_rate_per_btc", "payment_id", "method", "payment_status", "received",
    "amount_btc", "rate_kzt_per_btc", "value_kzt", "ledger_transfer_id",
    "settled_to_kzt_rate", "settled_to_kzt_amount",
    "payment_kzt_booking", "payment_kzt_rate", "payment_kzt_amount",
]  # fmt: skip


class RateBook:
    """The bank's mid rates over time, read once: the rate in force at any moment."""

    def __init__(self) -> None:
        rows = ExchangeRate.objects.order_by("created_at", "id").values_list(
            "created_at", "mid_tiyn_per_btc"
        )
        self.times: list[datetime] = []
        self.rates: list[int] = []
        for created_at, mid in rows:
            self.times.append(created_at)
            self.rates.append(int(mid))
        self.fallback = int(getattr(settings, "KZT_PER_BTC_TIYN", 0))

    def at(self, moment: datetime) -> int:
        """Return the newest rate set by ``moment`` (the setting before any was set)."""
        i = bisect.bisect_right(self.times, moment)
        rate = self.rates[i - 1] if i else self.fallback
        if rate <= 0:
            raise ServiceUnavailable("No BTC/KZT rate is available")
        return rate


def _credit_transfers(payments: list[InvoicePayment]) -> dict[int, Transfer | None]:
    """Return, per payment id, the transfer that credited the store (one query per batch)."""
    deposit_ids = [
        p.deposit_id for p in payments if p.method == PaymentMethod.CHAIN and p.deposit_id
    ]
    deposits = dict(Deposit.objects.filter(pk__in=deposit_ids).values_list("pk", "transfer_id"))
    transfers = {
        t.pk: t for t in Transfer.objects.filter(pk__in=[v for v in deposits.values() if v])
    }
    out: dict[int, Transfer | None] = {}
    for p in payments:
        if p.method == PaymentMethod.BANK:
            out[p.pk] = p.transfer
        else:
            out[p.pk] = transfers.get(deposits.get(p.deposit_id or 0) or 0)
    return out


def _payment_cells(
    payment: InvoicePayment, transfer: Transfer | None, rates: RateBook
) -> list[str]:
    at = transfer.created_at if transfer is not None else payment.received_at
    rate = rates.at(at)
    if transfer is not None and transfer.kzt_value_tiyn is not None:
        kzt = int(transfer.kzt_value_tiyn)
    else:
        kzt = (payment.amount_sats * rate + SATS_PER_BTC // 2) // SATS_PER_BTC  # half up
    return [
        f"{payment.txid}-{payment.vout}" if payment.txid else f"alatau-{payment.pk}",
        payment.method,
        payment.status,
        timezone.localtime(payment.received_at).isoformat(timespec="seconds"),
        format_amount(payment.amount_sats, "BTC"),
        format_amount(rate, "KZT"),
        format_amount(kzt, "KZT"),
        str(transfer.pk) if transfer is not None else "",
    ]


def _booking_cells(payment: InvoicePayment) -> list[str]:
    """How a KZT store's payment was exchanged: in the invoice's settlement, or on its own.

    ``invoice``: in the invoice's settlement (its rate and amount are in the
    ``settled_to_kzt_*`` columns); ``quote`` or ``market``: a later payment's own
    exchange at the invoice's quoted rate or the bank's bid rate of the moment.
    """
    if payment.kzt_settlement_id is not None:
        return ["invoice", "", ""]
    booking = getattr(payment, "kzt_booking", None)
    if booking is None:
        return ["", "", ""]
    return [
        booking.rate_source,
        format_amount(booking.rate_tiyn_per_btc, "KZT"),
        format_amount(booking.kzt_tiyn, "KZT"),
    ]


def _invoice_cells(invoice: Invoice) -> tuple[list[str], list[str]]:
    head = [
        invoice.id,
        timezone.localtime(invoice.created_at).isoformat(timespec="seconds"),
        invoice.status,
        invoice.additional_status,
        invoice.order_id,
        invoice.currency,
        format_amount(invoice.amount_minor, invoice.currency),
        # In the invoice currency (KZT, USD, EUR per BTC), fixed at creation.
        format_amount(invoice.rate_minor_per_btc, invoice.currency)
        if invoice.rate_minor_per_btc
        else "",
    ]
    settlement = getattr(invoice, "kzt_settlement", None)
    tail = (
        [
            format_amount(settlement.rate_tiyn_per_btc, "KZT"),
            format_amount(settlement.kzt_tiyn, "KZT"),
        ]
        if settlement is not None
        else ["", ""]
    )
    return head, tail


def invoice_csv_rows(*, merchant: Merchant, filters: InvoiceFilter) -> Iterator[list[str]]:
    """Yield the header, then one row per payment (an unpaid invoice: one row, no payment)."""
    yield CSV_HEADER
    rates = RateBook()
    ids = list(
        invoice_search(merchant=merchant, filters=filters).values_list("pk", flat=True)[
            :CSV_ROWS_MAX
        ]
    )
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        invoices = (
            Invoice.objects.filter(pk__in=chunk)
            .select_related("kzt_settlement")
            .prefetch_related("payments__transfer", "payments__kzt_booking")
            .order_by("-created_at", "-pk")
        )
        invoices_list = list(invoices)
        payments = [p for i in invoices_list for p in i.payments.all()]
        credits = _credit_transfers(payments)
        for invoice in invoices_list:
            head, tail = _invoice_cells(invoice)
            mine = list(invoice.payments.all())
            if not mine:
                yield [*head, *[""] * 8, *tail, "", "", ""]
            for payment in mine:
                cells = _payment_cells(payment, credits[payment.pk], rates)
                yield [*head, *cells, *tail, *_booking_cells(payment)]
