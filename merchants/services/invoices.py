"""Invoices: create, follow payments through the statuses, mark, archive, expire.

Status rules (Greenfield's, with Alatau's money notes):

- ``New``: nothing or less than the amount (after ``paymentTolerance``) paid;
  ``additionalStatus`` ``PaidPartial`` once something arrived.
- ``Processing``: paid in full, but not every payment has the confirmations
  of the speed policy yet. ``Settled``: paid in full and confirmed.
  More than the amount: ``PaidOver`` (Processing or Settled).
- ``Expired``: the timer ran out before full payment (``PaidPartial`` if
  something had arrived). A payment after expiry keeps it Expired with
  ``PaidLate``.
- ``Invalid``: marked so by the merchant (``Marked``), or a payment the
  invoice relied on was reorged out (``Invalid``). Payments to an invalid
  invoice are still recorded.

Money is never lost: on-chain payments to the invoice's address are credited
by custody's deposit scanner to the merchant's BTC account whatever the
invoice's status (late, partial, over, after Invalid). The merchant refunds
what it does not want to keep (``invoice_refund``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, router, transaction
from django.db.models import Model
from django.utils import timezone

from accounts.actor import Actor
from audit.chain import audit_record
from core.db_rows import row_insert_statement, row_inserted
from core.errors import ValidationFailed, invariant
from core.money import Currency, check_minor, parse_amount
from merchants.errors import (
    InvoiceAlreadyUnarchived,
    InvoiceNotFound,
    InvoiceStatusInvalid,
    MerchantSuspended,
)
from merchants.ids import invoice_id_new
from merchants.models import (
    CONFIRMATIONS_FOR_SPEED,
    AdditionalStatus,
    Invoice,
    InvoicePayment,
    InvoiceStatus,
    InvoiceType,
    Merchant,
    PaymentMethod,
    PaymentStatus,
    WebhookEvent,
)
from merchants.presenters import MANUAL_MARKS, is_overpaid, payment_json
from merchants.services import onchain_address, quotes
from merchants.services.invoice_input import (
    amount_text,
    parse_checkout,
    parse_currency,
    parse_metadata,
)
from merchants.services.settlement import invoice_settle_to_kzt_on_settled
from merchants.services.webhooks import (
    invoice_event_extra,
    webhook_deliveries_enqueue,
    webhook_deliveries_new,
    webhook_event_emit,
    webhooks_wanting,
)

logger = logging.getLogger(__name__)

EXPIRE_BATCH_MAX = 500


def _address_first(
    merchant: Merchant, invoice_id: str, methods: list[str], confirmations: int
) -> tuple[int, str] | None:
    """The invoice's on-chain address, asked of the node before any transaction is open."""
    if methods and PaymentMethod.CHAIN not in methods:
        return None  # an in-bank-only invoice gets no address
    return onchain_address.address_for_invoice(
        merchant=merchant, invoice_id=invoice_id, required_confirmations=confirmations
    )


def invoice_create(
    *,
    merchant: Merchant,
    amount: Any,
    currency: str | None,
    metadata: Any = None,
    checkout: dict[str, Any] | None = None,
    actor: Actor = None,
) -> Invoice:
    """Create an invoice, its on-chain address, and the ``InvoiceCreated`` event.

    ``amount`` ``None`` makes a top-up invoice: any payment is payment in full.
    ``currency`` ``None`` is the store's default (``default_currency``). A fiat price
    (KZT, USD, EUR) is turned into the BTC due at the bank's rate now, rounded up to
    the satoshi, and both are fixed on the invoice.
    """
    if not merchant.is_active:
        raise MerchantSuspended()
    cur = parse_currency(currency, default=merchant.default_currency)
    topup = amount is None
    amount_minor = 0 if topup else parse_amount(amount_text(amount), cur)
    options = parse_checkout(checkout or {})
    meta, order_id = parse_metadata(metadata)
    amount_sats, rate = _btc_due(amount_minor, cur, topup)
    invoice_id = invoice_id_new()
    confirmations = CONFIRMATIONS_FOR_SPEED[options["speed"]]
    address = _address_first(merchant, invoice_id, options["methods"], confirmations)
    now = timezone.now()
    invoice = Invoice(
        id=invoice_id,
        merchant=merchant,
        currency=cur,
        amount_minor=amount_minor,
        amount_sats=amount_sats,
        rate_minor_per_btc=rate,
        speed_policy=options["speed"],
        required_confirmations=confirmations,
        tolerance_bp=options["tolerance_bp"],
        expiration_minutes=options["minutes"],
        monitoring_minutes=options["monitoring"],
        invoice_type=InvoiceType.TOP_UP if topup else InvoiceType.STANDARD,
        payment_methods=options["methods"],
        default_payment_method=options["default"],
        redirect_url=options["redirect"],
        metadata=meta,
        order_id=order_id,
        expires_at=now + timedelta(minutes=options["minutes"]),
        # The address in the same INSERT: no second round trip to attach it.
        deposit_address_id=address[0] if address is not None else None,
        destination=address[1] if address is not None else "",
    )
    _invoice_write(
        invoice,
        actor=actor,
        data={
            "merchant": merchant.pk,
            "amount_minor": amount_minor,
            "currency": cur,
            "amount_sats": amount_sats,
            "rate_minor_per_btc": rate,
        },
    )
    return invoice


def _invoice_write(invoice: Invoice, *, actor: Actor, data: dict[str, Any]) -> None:
    """INSERT a new invoice, its ``InvoiceCreated`` deliveries and its audit event as one
    statement: atomic on its own, so in autocommit there is no BEGIN or COMMIT round trip
    and the audit chain head is held for that statement only (``audit_record``)."""
    # The webhooks that want the event, read before anything is written. (Read inside a
    # transaction, as before, a webhook added meanwhile missed the event just the same.)
    event_type = WebhookEvent.INVOICE_CREATED
    hooks = webhooks_wanting(merchant_id=invoice.merchant_id, event_type=event_type)
    deliveries = webhook_deliveries_new(
        merchant=invoice.merchant, event_type=event_type, webhooks=hooks, invoice=invoice,
        extra=invoice_event_extra(invoice, {}),
    )  # fmt: skip
    alias = router.db_for_write(Invoice) or DEFAULT_DB_ALIAS
    invariant(alias == DEFAULT_DB_ALIAS, "invoices and the audit chain share the primary")
    # Neither model has save signals: INSERTs without the ORM's compiler (core/db_rows.py).
    rows: list[Model] = [invoice, *deliveries]
    audit_record(
        actor=actor, action="invoice.create", obj=invoice, data=data,
        with_change=[row_insert_statement(row, alias=alias) for row in rows],
    )  # fmt: skip
    for row in rows:
        row_inserted(row, alias=alias)
    webhook_deliveries_enqueue(deliveries)


def _btc_due(amount_minor: int, currency: str, topup: bool) -> tuple[int, int]:
    """Return (satoshis due, rate in minor units per BTC; 0 for BTC) of a price."""
    if currency == Currency.BTC:
        return amount_minor, 0
    # A top-up (price 0) still records the rate: what is paid shows in its currency.
    amount_sats, rate = quotes.sats_for_price(amount_minor, currency)
    if not topup:  # a huge price at a small rate must not ask more than 21 million BTC
        check_minor(amount_sats, Currency.BTC, field="amount")
    return amount_sats, rate


def invoice_payment_method_activate(
    *, merchant: Merchant, invoice_id: str, method: str, actor: Any
) -> Invoice:
    """Activate a payment method of an invoice: give BTC-CHAIN its address if it has none.

    Every method is active from creation; an on-chain address can be missing only when
    the node was unreachable then. A method the invoice does not offer stays inactive.
    """
    if method not in PaymentMethod.values:
        raise ValidationFailed(
            "Invalid payment method", fields={"paymentMethod": ["Invalid payment method"]}
        )
    invoice = Invoice.objects.filter(merchant=merchant, pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound()
    if not _needs_address(invoice, method):
        return invoice
    # Ask the node first, with nothing locked; then attach under the lock if still needed.
    address = onchain_address.address_for_invoice(
        merchant=merchant, invoice_id=invoice.id,
        required_confirmations=invoice.required_confirmations,
    )  # fmt: skip
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        if address is not None and _needs_address(invoice, method):
            invoice.deposit_address_id, invoice.destination = address
            invoice.save(update_fields=["deposit_address_id", "destination"])
            audit_record(
                actor=actor, action="invoice.activate", obj=invoice, data={"method": method}
            )
    return invoice


def _needs_address(invoice: Invoice, method: str) -> bool:
    return (
        method == PaymentMethod.CHAIN
        and invoice.offers(method)
        and not invoice.destination
        and invoice.status == InvoiceStatus.NEW
    )


def invoice_lock(*, merchant: Merchant | None, invoice_id: str) -> Invoice:
    """Lock an invoice row (``FOR UPDATE``); 404 if it is not the merchant's."""
    query = Invoice.objects.select_for_update(of=("self",)).select_related("merchant")
    if merchant is not None:
        query = query.filter(merchant=merchant)
    invoice = query.filter(pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound()
    return invoice


def _set_status(invoice: Invoice, status: str, additional: str, now: datetime) -> None:
    if invoice.status != status:
        invoice.status_changed_at = now
        if status == InvoiceStatus.SETTLED:
            invoice.settled_at = now
    invoice.status, invoice.additional_status = status, additional


def _save(invoice: Invoice) -> None:
    invoice.save(
        update_fields=[
            "status",
            "additional_status",
            "paid_sats",
            "settled_sats",
            "status_changed_at",
            "settled_at",
        ]
    )


def invoice_expire_if_due(invoice: Invoice, *, now: datetime) -> bool:
    """Expire a locked ``New`` invoice whose time is up; emit ``InvoiceExpired``."""
    if invoice.status != InvoiceStatus.NEW or invoice.expires_at > now:
        return False
    partial = invoice.paid_sats > 0
    _set_status(
        invoice,
        InvoiceStatus.EXPIRED,
        AdditionalStatus.PAID_PARTIAL if partial else AdditionalStatus.NONE,
        now,
    )
    _save(invoice)
    audit_record(
        actor=None, action="invoice.expire", obj=invoice, data={"paid_sats": invoice.paid_sats}
    )
    webhook_event_emit(
        invoice=invoice, event_type=WebhookEvent.INVOICE_EXPIRED, extra={"partiallyPaid": partial}
    )
    return True


def invoice_expire_due(*, now: datetime | None = None, limit: int = EXPIRE_BATCH_MAX) -> int:
    """Expire due ``New`` invoices (periodic task); bounded per run, skips locked rows."""
    now = now or timezone.now()
    expired = 0
    with transaction.atomic():
        due = (
            Invoice.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("merchant")
            .filter(status=InvoiceStatus.NEW, expires_at__lte=now)
            .order_by("expires_at")[:limit]
        )
        for invoice in due:
            expired += invoice_expire_if_due(invoice, now=now)
    return expired


def invoice_apply_payments(
    invoice: Invoice,
    *,
    now: datetime,
    new_payment: InvoicePayment | None = None,
    newly_settled: list[InvoicePayment] | None = None,
) -> None:
    """Recompute a locked invoice from its payments and emit the events of what changed.

    A ``New`` invoice past its time expires first, unless payments the
    scanner saw before the deadline cover it (a scan may run a little late).
    """
    payments = list(invoice.payments.all())
    accounted = [p for p in payments if p.status != PaymentStatus.INVALID]
    on_time = sum(p.amount_sats for p in accounted if not p.after_expiration)
    if invoice.status == InvoiceStatus.NEW and on_time < invoice.threshold_sats:
        invoice.paid_sats = on_time
        invoice_expire_if_due(invoice, now=now)
    invoice.paid_sats = sum(p.amount_sats for p in accounted)
    invoice.settled_sats = sum(
        p.amount_sats for p in accounted if p.status == PaymentStatus.SETTLED
    )
    before = invoice.status
    status, additional = _next_status(
        invoice, now=now, late=any(p.after_expiration for p in accounted)
    )
    _set_status(invoice, status, additional, now)
    _save(invoice)
    invoice_settle_to_kzt_on_settled(invoice)  # a store that takes only tenge
    _emit_payment_events(invoice, new_payment, newly_settled or [])
    if status == before:
        return
    audit_record(
        actor=None,
        action="invoice.status",
        obj=invoice,
        data={
            "before": before,
            "after": status,
            "additional": additional,
            "paid_sats": invoice.paid_sats,
        },
    )
    overpaid = {"overPaid": is_overpaid(invoice)}
    if status == InvoiceStatus.PROCESSING:
        webhook_event_emit(
            invoice=invoice, event_type=WebhookEvent.INVOICE_PROCESSING, extra=overpaid
        )
    elif status == InvoiceStatus.SETTLED:
        webhook_event_emit(
            invoice=invoice,
            event_type=WebhookEvent.INVOICE_SETTLED,
            extra={"manuallyMarked": False, **overpaid},
        )
    elif status == InvoiceStatus.INVALID:
        webhook_event_emit(
            invoice=invoice,
            event_type=WebhookEvent.INVOICE_INVALID,
            extra={"manuallyMarked": False},
        )


def _emit_payment_events(
    invoice: Invoice, new_payment: InvoicePayment | None, newly_settled: list[InvoicePayment]
) -> None:
    if new_payment is not None:
        webhook_event_emit(
            invoice=invoice,
            event_type=WebhookEvent.INVOICE_RECEIVED_PAYMENT,
            extra=_payment_extra(new_payment),
        )
    for payment in newly_settled:
        webhook_event_emit(
            invoice=invoice,
            event_type=WebhookEvent.INVOICE_PAYMENT_SETTLED,
            extra=_payment_extra(payment),
        )


def _payment_extra(payment: InvoicePayment) -> dict[str, Any]:
    return {
        "afterExpiration": payment.after_expiration,
        "paymentMethodId": payment.method,
        "payment": payment_json(payment),
    }


def _next_status(invoice: Invoice, *, now: datetime, late: bool) -> tuple[str, str]:
    status, additional = invoice.status, invoice.additional_status
    paid, threshold = invoice.paid_sats, invoice.threshold_sats
    over = AdditionalStatus.PAID_OVER if is_overpaid(invoice) else AdditionalStatus.NONE
    if additional == AdditionalStatus.MARKED:
        return status, additional  # the merchant's word stands; payments are still recorded
    if status in (InvoiceStatus.NEW, InvoiceStatus.PROCESSING):
        if paid >= threshold:
            done = invoice.settled_sats >= threshold
            return (InvoiceStatus.SETTLED if done else InvoiceStatus.PROCESSING), over
        if status == InvoiceStatus.PROCESSING and invoice.expires_at <= now:
            return InvoiceStatus.INVALID, AdditionalStatus.INVALID  # a payment vanished too late
        return InvoiceStatus.NEW, (AdditionalStatus.PAID_PARTIAL if paid else AdditionalStatus.NONE)
    if status == InvoiceStatus.EXPIRED:
        if late:
            return status, AdditionalStatus.PAID_LATE
        return status, (AdditionalStatus.PAID_PARTIAL if paid else AdditionalStatus.NONE)
    if status == InvoiceStatus.SETTLED:
        if invoice.settled_sats < threshold and paid < threshold:
            return InvoiceStatus.INVALID, AdditionalStatus.INVALID  # reorged after settling
        return status, over
    return status, additional  # Invalid stays Invalid


def invoice_mark_status(
    *, merchant: Merchant, invoice_id: str, status: str, actor: Actor
) -> Invoice:
    """Mark an invoice Settled or Invalid by hand (``additionalStatus`` becomes ``Marked``).

    Marking moves no money: Settled means the merchant was paid some other
    way; Invalid means it will not deliver (refund with ``invoice_refund``).
    """
    if status not in (InvoiceStatus.SETTLED, InvoiceStatus.INVALID):
        raise ValidationFailed(
            "Mark Settled or Invalid", fields={"status": ["Settled or Invalid."]}
        )
    now = timezone.now()
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        invoice_expire_if_due(invoice, now=now)
        if status not in MANUAL_MARKS[invoice.status]:
            raise InvoiceStatusInvalid(
                f"A {invoice.status} invoice cannot be marked {status}.",
                fields={
                    "status": [
                        "Status can only be marked to invalid or settled within certain conditions."
                    ]
                },
            )
        before = invoice.status
        _set_status(invoice, status, AdditionalStatus.MARKED, now)
        _save(invoice)
        audit_record(
            actor=actor,
            action="invoice.mark",
            obj=invoice,
            data={"before": before, "after": status},
        )
        if status == InvoiceStatus.SETTLED:
            webhook_event_emit(
                invoice=invoice,
                event_type=WebhookEvent.INVOICE_SETTLED,
                extra={"manuallyMarked": True, "overPaid": is_overpaid(invoice)},
            )
        else:
            webhook_event_emit(
                invoice=invoice,
                event_type=WebhookEvent.INVOICE_INVALID,
                extra={"manuallyMarked": True},
            )
    return invoice


def invoice_set_archived(
    *, merchant: Merchant, invoice_id: str, archived: bool, actor: Actor
) -> Invoice:
    """Archive (hide from lists) or unarchive an invoice; it keeps working either way.

    Unarchiving a live invoice is refused as BTCPay does (``already-unarchived``);
    archiving twice is not.
    """
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        if not archived and not invoice.archived:
            raise InvoiceAlreadyUnarchived()
        if invoice.archived != archived:
            invoice.archived = archived
            invoice.save(update_fields=["archived"])
            audit_record(
                actor=actor,
                action="invoice.archive" if archived else "invoice.unarchive",
                obj=invoice,
            )
    return invoice


def invoice_update_metadata(
    *, merchant: Merchant, invoice_id: str, metadata: Any, actor: Actor
) -> Invoice:
    """Replace an invoice's metadata (Greenfield's ``PUT``); ``orderId`` is re-indexed."""
    meta, order_id = parse_metadata(metadata)
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        before = invoice.metadata
        invoice.metadata, invoice.order_id = meta, order_id
        invoice.save(update_fields=["metadata", "order_id"])
        audit_record(
            actor=actor, action="invoice.metadata", obj=invoice,
            data={"before": before, "after": meta},
        )  # fmt: skip
    return invoice
