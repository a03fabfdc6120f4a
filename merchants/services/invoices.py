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

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from audit.chain import audit_record
from core.errors import ValidationFailed
from core.money import Currency, parse_amount
from merchants.errors import InvoiceNotFound, InvoiceStatusInvalid, MerchantSuspended
from merchants.ids import invoice_id_new
from merchants.models import (
    CONFIRMATIONS_FOR_SPEED,
    AdditionalStatus,
    Invoice,
    InvoicePayment,
    InvoiceStatus,
    Merchant,
    PaymentStatus,
    SpeedPolicy,
    WebhookEvent,
)
from merchants.presenters import MANUAL_MARKS, is_overpaid, payment_json
from merchants.services import onchain_address, quotes
from merchants.services.settlement import invoice_settle_to_kzt_on_settled
from merchants.services.webhooks import webhook_event_emit

logger = logging.getLogger(__name__)

EXPIRATION_MINUTES_DEFAULT = 15
EXPIRATION_MINUTES_MAX = 7 * 24 * 60
METADATA_BYTES_MAX = 16 * 1024
ORDER_ID_MAX = 200
EXPIRE_BATCH_MAX = 500


def _parse_checkout(checkout: dict[str, Any]) -> dict[str, Any]:
    speed = checkout.get("speedPolicy") or SpeedPolicy.MEDIUM
    if speed not in SpeedPolicy.values:
        raise ValidationFailed(
            "Unknown speed policy",
            fields={"checkout.speedPolicy": [f"One of {', '.join(SpeedPolicy.values)}."]},
        )
    minutes = checkout.get("expirationMinutes")
    minutes = EXPIRATION_MINUTES_DEFAULT if minutes is None else minutes
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | Decimal)
        or minutes != int(minutes)
        or not 1 <= minutes <= EXPIRATION_MINUTES_MAX
    ):
        raise ValidationFailed(
            "Bad expiration",
            fields={
                "checkout.expirationMinutes": [
                    f"A whole number from 1 to {EXPIRATION_MINUTES_MAX}."
                ]
            },
        )
    tolerance = checkout.get("paymentTolerance")
    try:
        tol = Decimal(0) if tolerance is None else Decimal(str(tolerance))
    except InvalidOperation:
        tol = Decimal(-1)
    if (
        isinstance(tolerance, bool)
        or not tol.is_finite()
        or not 0 <= tol <= 100
        or (tol * 100) != (tol * 100).to_integral_value()
    ):
        raise ValidationFailed(
            "Bad tolerance",
            fields={
                "checkout.paymentTolerance": ["A percentage from 0 to 100, at most 2 decimals."]
            },
        )
    redirect = checkout.get("redirectURL") or ""
    if redirect:
        parts = urlsplit(str(redirect))
        if parts.scheme not in ("http", "https") or not parts.netloc or len(redirect) > 2000:
            raise ValidationFailed(
                "Bad redirect URL", fields={"checkout.redirectURL": ["An absolute http(s) URL."]}
            )
    return {
        "speed": speed,
        "minutes": int(minutes),
        "tolerance_bp": int(tol * 100),
        "redirect": str(redirect),
    }


def _parse_metadata(metadata: Any) -> tuple[dict[str, Any], str]:
    metadata = metadata or {}
    if not isinstance(metadata, dict):
        raise ValidationFailed(
            "Metadata must be an object", fields={"metadata": ["A JSON object."]}
        )
    if len(json.dumps(metadata, default=str)) > METADATA_BYTES_MAX:
        raise ValidationFailed("Metadata too large", fields={"metadata": ["At most 16 KiB."]})
    order_id = metadata.get("orderId")
    if order_id is not None and (not isinstance(order_id, str) or len(order_id) > ORDER_ID_MAX):
        raise ValidationFailed(
            "Bad orderId",
            fields={"metadata.orderId": [f"A string of at most {ORDER_ID_MAX} characters."]},
        )
    return _plain_json(metadata), order_id or ""


def _plain_json(value: Any) -> Any:
    """Return metadata as plain JSON, numbers as the merchant sent them.

    The API parses fractions as ``Decimal``; metadata is the merchant's opaque
    data (never an amount the bank uses), so its numbers go back to JSON numbers.
    """
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    if isinstance(value, Decimal):
        return json.loads(str(value)) if value.is_finite() else str(value)
    return value


def invoice_create(
    *,
    merchant: Merchant,
    amount: Any,
    currency: str | None,
    metadata: Any = None,
    checkout: dict[str, Any] | None = None,
    actor: Actor = None,
) -> Invoice:
    """Create an invoice, its on-chain address, and the ``InvoiceCreated`` event."""
    if not merchant.is_active:
        raise MerchantSuspended()
    cur = (currency or "BTC").upper()
    if cur not in Currency.__members__:
        raise ValidationFailed("Unsupported currency", fields={"currency": ["Use BTC or KZT."]})
    if amount is None:
        raise ValidationFailed(
            "Top-up invoices are not supported",
            fields={"amount": ["Send the amount as a decimal string."]},
        )
    amount_minor = parse_amount(str(amount) if isinstance(amount, Decimal) else amount, cur)
    options = _parse_checkout(checkout or {})
    meta, order_id = _parse_metadata(metadata)
    if cur == Currency.BTC:
        amount_sats, rate = amount_minor, 0
    else:
        amount_sats, rate = quotes.sats_for_tiyn(amount_minor)
    invoice_id = invoice_id_new()
    confirmations = CONFIRMATIONS_FOR_SPEED[options["speed"]]
    # The node is asked before the transaction: no lock is held while it answers.
    address = onchain_address.address_for_invoice(
        merchant=merchant, invoice_id=invoice_id, required_confirmations=confirmations
    )
    now = timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.create(
            id=invoice_id,
            merchant=merchant,
            currency=cur,
            amount_minor=amount_minor,
            amount_sats=amount_sats,
            rate_tiyn_per_btc=rate,
            speed_policy=options["speed"],
            required_confirmations=confirmations,
            tolerance_bp=options["tolerance_bp"],
            expiration_minutes=options["minutes"],
            redirect_url=options["redirect"],
            metadata=meta,
            order_id=order_id,
            expires_at=now + timedelta(minutes=options["minutes"]),
        )
        if address is not None:
            invoice.deposit_address_id, invoice.destination = address
            invoice.save(update_fields=["deposit_address_id", "destination"])
        audit_record(
            actor=actor,
            action="invoice.create",
            obj=invoice,
            data={
                "merchant": merchant.pk,
                "amount_minor": amount_minor,
                "currency": cur,
                "amount_sats": amount_sats,
                "rate_tiyn_per_btc": rate,
            },
        )
        webhook_event_emit(invoice=invoice, event_type=WebhookEvent.INVOICE_CREATED, extra={})
    return invoice


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
    over = AdditionalStatus.PAID_OVER if paid > invoice.amount_sats else AdditionalStatus.NONE
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
                fields={"status": [f"Not allowed from {invoice.status}."]},
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
    """Archive (hide from lists) or unarchive an invoice; it keeps working either way."""
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
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
    meta, order_id = _parse_metadata(metadata)
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
