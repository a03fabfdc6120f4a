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
"""

from __future__ import annotations

import logging
import uuid
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
    InvoiceStatus,
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
    kzt_account_id = _kzt_account_id(merchant)
    btc_exchange = system_account(AccountKind.EXCHANGE, "BTC").pk
    kzt_exchange = system_account(AccountKind.EXCHANGE, "KZT").pk
    # Both legs' accounts at once, in id order, before the audit chain head.
    accounts_lock([merchant.btc_account_id, btc_exchange, kzt_exchange, kzt_account_id])
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
    legs = (
        (merchant.btc_account_id, btc_exchange, sats),
        (kzt_exchange, kzt_account_id, figures.kzt_tiyn),
    )
    for n, (debit, credit, amount) in enumerate(legs):
        transfer_create(
            debit_account_id=debit,
            credit_account_id=credit,
            amount_minor=amount,
            code=TransferCode.EXCHANGE,
            idempotency_key=f"kzt-settle:{invoice.id}:{n}",
            source=settlement,
            memo=f"Invoice {invoice.id} settled to KZT",
            group_id=settlement.group_id,
            kzt_value_tiyn=figures.kzt_tiyn,
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
        return _settle_locked(invoice)


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
    return done


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
