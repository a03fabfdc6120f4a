"""Guaranteed KZT price: exchange what a settled invoice brought in to KZT, once.

A store with ``settle_to_kzt`` never holds bitcoin from its sales. When an
invoice becomes Settled, its settled satoshis are sold to the bank in one
exchange (two transfers in one group through the exchange accounts):

- satoshis paid while the invoice's quote held (before its expiry) at the
  rate quoted on the invoice: the store receives the invoice's KZT price for
  the amount due, and the excess of an overpayment rounded down to a tiyn;
- satoshis paid after the quote expired (late payments), and every satoshi
  of a BTC-priced invoice (it has no quote), at the bank's bid rate of the
  moment, rounded down.

Every rounding favours the bank. The ``KztSettlement`` row is unique per
invoice, so a retry (the periodic sweep, a second event) never books twice.
A payment that settles after that (an overpayment confirming later, a late
payment) gets its own exchange, ``KztPaymentSettlement``, unique per payment.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import AccountKind, TransferCode
from accounts.services import account_open, accounts_lock, system_account, transfer_create
from audit.chain import audit_record
from core.errors import ApplicationError, invariant
from exchange.services import bid_rate, exchange_rate_current, kzt_for_btc
from merchants.errors import QuoteUnavailable
from merchants.models import (
    AdditionalStatus,
    Invoice,
    InvoicePayment,
    InvoiceStatus,
    KztPaymentSettlement,
    KztRateSource,
    KztSettlement,
    Merchant,
    PaymentStatus,
)

logger = logging.getLogger(__name__)

SWEEP_BATCH_MAX = 200
SWEEP_LOOKBACK = timedelta(days=30)


@dataclass(frozen=True)
class SettlementFigures:
    quoted_sats: int
    market_sats: int
    kzt_tiyn: int
    quote_rate: int
    market_rate: int


def quoted_kzt_tiyn(*, sats: int, invoice: Invoice) -> int:
    """Return the tiyn the store receives for ``sats`` paid under the invoice's quote.

    Up to the amount due: the invoice's KZT price at most (the quote rounded
    the BTC due up, so converting back could give a few tiyn more). Beyond it
    (an overpayment): the excess at the quoted rate, rounded down.
    """
    rate = invoice.rate_tiyn_per_btc
    if sats >= invoice.amount_sats:
        return invoice.amount_minor + kzt_for_btc(sats - invoice.amount_sats, rate)
    return min(kzt_for_btc(sats, rate), invoice.amount_minor)


def settlement_due(invoice: Invoice) -> bool:
    """Return whether an invoice's bitcoin is to be exchanged (for a ``settle_to_kzt`` store).

    Settled invoices are (not those marked by hand: no money moved). An
    expired invoice paid in full late is too, at the market rate: its quote
    has expired. Partial payments stay in BTC, for the store to refund.
    """
    if invoice.additional_status == AdditionalStatus.MARKED:
        return False
    if invoice.status == InvoiceStatus.SETTLED:
        return True
    return (
        invoice.status == InvoiceStatus.EXPIRED
        and invoice.additional_status == AdditionalStatus.PAID_LATE
        and invoice.settled_sats >= invoice.threshold_sats
    )


def settlement_figures(*, invoice: Invoice, market_rate: int | None) -> SettlementFigures:
    """Split an invoice's settled, unrefunded satoshis into quoted and market parts."""
    settled = invoice.payments.filter(status=PaymentStatus.SETTLED)
    on_time = settled.filter(after_expiration=False).aggregate(s=Sum("amount_sats"))["s"] or 0
    late = settled.filter(after_expiration=True).aggregate(s=Sum("amount_sats"))["s"] or 0
    refunded = invoice.refunds.aggregate(s=Sum("amount_sats"))["s"] or 0
    # The quote holds for what was paid in time on an invoice settled in time.
    has_quote = (
        invoice.currency == "KZT"
        and invoice.rate_tiyn_per_btc > 0
        and invoice.status == InvoiceStatus.SETTLED
    )
    quoted, market = (on_time, late) if has_quote else (0, on_time + late)
    # Refunds come out of the market part first, then the quoted part.
    taken = min(refunded, market)
    market -= taken
    quoted = max(quoted - (refunded - taken), 0)
    if market and not market_rate:
        raise QuoteUnavailable("No BTC/KZT rate is set; the settlement waits for one.")
    tiyn = (quoted_kzt_tiyn(sats=quoted, invoice=invoice) if quoted else 0) + (
        kzt_for_btc(market, market_rate or 0) if market else 0
    )
    return SettlementFigures(
        quoted_sats=quoted,
        market_sats=market,
        kzt_tiyn=tiyn,
        quote_rate=invoice.rate_tiyn_per_btc if quoted else 0,
        market_rate=(market_rate or 0) if market else 0,
    )


def _market_rate() -> int | None:
    rate = exchange_rate_current()
    if rate is None or rate.mid_tiyn_per_btc <= 0:
        return None
    return bid_rate(int(rate.mid_tiyn_per_btc), int(rate.spread_bp))


def _kzt_account_id(merchant: Merchant) -> int:
    """Return the store's KZT account, opening it on first use (store row locked).

    The store row is locked only to open the account: the payment that
    settles already holds the store's BTC account, and a conversion takes the
    store row first, so taking it here every time could deadlock with one.
    """
    current = (
        Merchant.objects.filter(pk=merchant.pk).values_list("kzt_account_id", flat=True).first()
    )
    if current is not None:
        merchant.kzt_account_id = current
        return int(current)
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    if locked.kzt_account_id is None:
        locked.kzt_account = account_open(
            owner=locked.owner, currency="KZT", kind=AccountKind.MERCHANT, name=locked.name
        )
        locked.save(update_fields=["kzt_account"])
    merchant.kzt_account_id = locked.kzt_account_id
    invariant(locked.kzt_account_id is not None, "the store has a KZT account")
    return int(locked.kzt_account_id or 0)


def exchange_accounts_lock(merchant: Merchant, *, also: Iterable[int] = ()) -> tuple[int, int, int]:
    """Lock the store's two accounts, the exchange's (and ``also``) at once, in id order.

    Returns (store's KZT account, exchange BTC, exchange KZT). Taken before the
    audit chain head, as every exchange does: no deadlock with one. Locking again
    accounts a transaction already holds is a no-op.
    """
    kzt_account_id = _kzt_account_id(merchant)
    btc_exchange = system_account(AccountKind.EXCHANGE, "BTC").pk
    kzt_exchange = system_account(AccountKind.EXCHANGE, "KZT").pk
    accounts_lock([merchant.btc_account_id, btc_exchange, kzt_exchange, kzt_account_id, *also])
    return kzt_account_id, btc_exchange, kzt_exchange


def _sell_btc(
    *, merchant: Merchant, sats: int, tiyn: int, source: Any, key: str, memo: str, group_id: Any
) -> None:
    """Book the two legs of a sale of the store's bitcoin to the bank (accounts locked)."""
    kzt_account_id, btc_exchange, kzt_exchange = exchange_accounts_lock(merchant)
    legs = (
        (merchant.btc_account_id, btc_exchange, sats),
        (kzt_exchange, kzt_account_id, tiyn),
    )
    for n, (debit, credit, amount) in enumerate(legs):
        transfer_create(
            debit_account_id=debit,
            credit_account_id=credit,
            amount_minor=amount,
            code=TransferCode.EXCHANGE,
            idempotency_key=f"{key}:{n}",
            source=source,
            memo=memo,
            group_id=group_id,
            kzt_value_tiyn=tiyn,
        )


def _settle_locked(invoice: Invoice) -> KztSettlement | None:
    """Book the exchange for a locked invoice (inside a transaction); None if not due."""
    merchant = invoice.merchant
    if not merchant.settle_to_kzt or not settlement_due(invoice):
        return None
    existing = KztSettlement.objects.filter(invoice=invoice).first()
    if existing is not None:
        return existing
    figures = settlement_figures(invoice=invoice, market_rate=_market_rate())
    sats = figures.quoted_sats + figures.market_sats
    if sats <= 0 or figures.kzt_tiyn <= 0:
        return None
    exchange_accounts_lock(merchant)
    settlement = KztSettlement.objects.create(
        invoice=invoice,
        merchant=merchant,
        amount_sats=sats,
        kzt_tiyn=figures.kzt_tiyn,
        quoted_sats=figures.quoted_sats,
        quote_rate_tiyn_per_btc=figures.quote_rate,
        market_sats=figures.market_sats,
        market_rate_tiyn_per_btc=figures.market_rate,
        group_id=uuid.uuid4(),
    )
    # The payments it exchanged: any that settles later gets an exchange of its own.
    invoice.payments.filter(status=PaymentStatus.SETTLED).update(kzt_settlement=settlement)
    _sell_btc(
        merchant=merchant,
        sats=sats,
        tiyn=figures.kzt_tiyn,
        source=settlement,
        key=f"kzt-settle:{invoice.id}",
        memo=f"Invoice {invoice.id} settled to KZT",
        group_id=settlement.group_id,
    )
    audit_record(
        actor=None,
        action="invoice.settle_to_kzt",
        obj=settlement,
        data={
            "invoice": invoice.id,
            "amount_sats": sats,
            "kzt_tiyn": figures.kzt_tiyn,
            "quoted_sats": figures.quoted_sats,
            "quote_rate": figures.quote_rate,
            "market_sats": figures.market_sats,
            "market_rate": figures.market_rate,
        },
    )
    return settlement


def _quote_holds(invoice: Invoice, payment: InvoicePayment) -> bool:
    """Return whether a later payment is exchanged at the invoice's quoted rate.

    The store's rule for a quote: it holds until the invoice expires (the store's
    expiration minutes), for a KZT invoice settled in time. A payment the node saw
    after that is worth the bank's bid rate of the moment.
    """
    return (
        invoice.currency == "KZT"
        and invoice.rate_tiyn_per_btc > 0
        and invoice.status == InvoiceStatus.SETTLED
        and not payment.after_expiration
    )


def _later_figures(
    invoice: Invoice, settlement: KztSettlement, payment: InvoicePayment
) -> tuple[str, int, int]:
    """Return (rate source, rate, tiyn) for a later payment; rounding favours the bank.

    At the quote, the payment adds what ``quoted_kzt_tiyn`` gives for all quoted
    satoshis so far, less what the earlier ones got: together never more than the
    invoice's price for the amount due, the excess rounded down once.
    """
    if _quote_holds(invoice, payment):
        later_quoted = KztPaymentSettlement.objects.filter(
            invoice=invoice, rate_source=KztRateSource.QUOTE
        ).aggregate(s=Sum("amount_sats"))["s"]
        before = settlement.quoted_sats + int(later_quoted or 0)
        after = before + payment.amount_sats
        tiyn = quoted_kzt_tiyn(sats=after, invoice=invoice) - quoted_kzt_tiyn(
            sats=before, invoice=invoice
        )
        return KztRateSource.QUOTE, invoice.rate_tiyn_per_btc, tiyn
    rate = _market_rate()
    if not rate:
        raise QuoteUnavailable("No BTC/KZT rate is set; the settlement waits for one.")
    return KztRateSource.MARKET, rate, kzt_for_btc(payment.amount_sats, rate)


def _later_book(
    invoice: Invoice, settlement: KztSettlement, payment: InvoicePayment
) -> KztPaymentSettlement:
    """Exchange one later payment (invoice locked, inside a savepoint)."""
    merchant = invoice.merchant
    source, rate, tiyn = _later_figures(invoice, settlement, payment)
    invariant(tiyn >= 0, "a later payment's KZT is never negative")
    if tiyn:
        exchange_accounts_lock(merchant)  # the accounts before the booking row and audit head
    booking = KztPaymentSettlement.objects.create(
        payment=payment,
        invoice=invoice,
        merchant=merchant,
        amount_sats=payment.amount_sats,
        kzt_tiyn=tiyn,
        rate_tiyn_per_btc=rate,
        rate_source=source,
        group_id=uuid.uuid4(),
    )
    if tiyn:  # worth less than a tiyn: the satoshis stay in BTC
        _sell_btc(
            merchant=merchant,
            sats=payment.amount_sats,
            tiyn=tiyn,
            source=booking,
            key=f"kzt-settle-payment:{payment.pk}",
            memo=f"Later payment to invoice {invoice.id} settled to KZT",
            group_id=booking.group_id,
        )
    audit_record(
        actor=None,
        action="invoice.payment_settle_to_kzt",
        obj=booking,
        data={
            "invoice": invoice.id,
            "payment": payment.pk,
            "amount_sats": payment.amount_sats,
            "kzt_tiyn": tiyn,
            "rate": rate,
            "rate_source": source,
        },
    )
    return booking


def later_payments_settle_locked(
    *, invoice: Invoice, settlement: KztSettlement
) -> list[KztPaymentSettlement]:
    """Exchange each settled payment the invoice's settlement did not cover (invoice locked).

    One exchange per payment (unique per payment: a rescan or retry finds it
    booked). Each runs in a savepoint: a payment whose bitcoin cannot be sold yet
    (no rate, not spendable) waits for the sweep and never undoes another.
    """
    if not invoice.merchant.settle_to_kzt:
        return []
    pending = invoice.payments.filter(
        status=PaymentStatus.SETTLED, kzt_settlement__isnull=True, kzt_booking__isnull=True
    ).order_by("settled_at", "pk")[:SWEEP_BATCH_MAX]
    booked = []
    for payment in pending:
        try:
            with transaction.atomic():
                booked.append(_later_book(invoice, settlement, payment))
        except ApplicationError as exc:
            logger.warning("KZT settlement of payment %s deferred: %s", payment.pk, exc.message)
    return booked


def later_payments_settle_due(*, since: Any, limit: int = SWEEP_BATCH_MAX) -> int:
    """Book the later payments of KZT-settled invoices that are still in BTC (periodic)."""
    ids = list(
        InvoicePayment.objects.filter(
            status=PaymentStatus.SETTLED,
            settled_at__gte=since,
            invoice__merchant__settle_to_kzt=True,
            invoice__kzt_settlement__isnull=False,
            kzt_settlement__isnull=True,
            kzt_booking__isnull=True,
        )
        .order_by("invoice_id")
        .values_list("invoice_id", flat=True)
        .distinct()[:limit]
    )
    done = 0
    for invoice_id in ids:
        with transaction.atomic():
            invoice = (
                Invoice.objects.select_for_update(of=("self",)).select_related("merchant")
                .get(pk=invoice_id)
            )  # fmt: skip
            settlement = KztSettlement.objects.filter(invoice=invoice).first()
            if settlement is not None and settlement_due(invoice):
                done += len(later_payments_settle_locked(invoice=invoice, settlement=settlement))
    return done


def invoice_settle_to_kzt(*, invoice_id: str) -> KztSettlement | None:
    """Exchange a settled invoice's bitcoin to KZT if its store asks for it (idempotent)."""
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("merchant")
            .filter(pk=invoice_id)
            .first()
        )
        if invoice is None:
            return None
        settlement = _settle_locked(invoice)
        if settlement is not None:
            later_payments_settle_locked(invoice=invoice, settlement=settlement)
        return settlement


def invoice_settle_to_kzt_on_settled(invoice: Invoice) -> None:
    """Hook of ``invoice_apply_payments``: settle after the payment commits, else the sweep.

    The payment's transaction already holds the audit chain head, so the exchange
    runs in its own transaction after commit (accounts locked first, head last: no
    deadlock with an exchange). A missing rate or a store whose bitcoin was already
    spent never undoes the payment; the periodic sweep settles what was deferred.
    """
    if not invoice.merchant.settle_to_kzt:
        return
    invoice_id = invoice.id

    def settle() -> None:
        try:
            invoice_settle_to_kzt(invoice_id=invoice_id)
        except ApplicationError as exc:
            logger.warning("KZT settlement of %s deferred: %s", invoice_id, exc.message)

    transaction.on_commit(settle)


def kzt_settlements_due(*, limit: int = SWEEP_BATCH_MAX) -> int:
    """Settle recent Settled invoices of KZT stores that have no settlement yet (periodic)."""
    since = timezone.now() - SWEEP_LOOKBACK
    ids = list(
        Invoice.objects.filter(
            merchant__settle_to_kzt=True,
            status__in=(InvoiceStatus.SETTLED, InvoiceStatus.EXPIRED),
            status_changed_at__gte=since,
            kzt_settlement__isnull=True,
        )
        .exclude(additional_status__in=(AdditionalStatus.MARKED, AdditionalStatus.PAID_PARTIAL))
        .exclude(status=InvoiceStatus.EXPIRED, additional_status=AdditionalStatus.NONE)
        .order_by("status_changed_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for invoice_id in ids:
        try:
            done += invoice_settle_to_kzt(invoice_id=invoice_id) is not None
        except ApplicationError as exc:
            logger.warning("KZT settlement of %s deferred: %s", invoice_id, exc.message)
    return done + later_payments_settle_due(since=since, limit=limit)


def merchant_set_settle_to_kzt(*, merchant: Merchant, enabled: bool, actor: Any) -> Merchant:
    """Turn the guaranteed KZT price on or off for a store (audited)."""
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if locked.settle_to_kzt != enabled:
            locked.settle_to_kzt = enabled
            locked.save(update_fields=["settle_to_kzt"])
            audit_record(
                actor=actor,
                action="merchant.settle_to_kzt",
                obj=locked,
                data={"enabled": enabled},
            )
        merchant.settle_to_kzt = locked.settle_to_kzt
    return locked
