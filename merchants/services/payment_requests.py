"""Payment requests: a public link for an amount; paying it creates an invoice.

The request's money goes through the invoice machinery (in-bank or on-chain,
webhooks, refunds, KZT settlement); the request only keeps the amount, the
expiry and the memo, and sums up its invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.chain import audit_record
from core.errors import NotFound, ValidationFailed
from core.money import Currency, format_amount, parse_amount
from exchange.services import kzt_for_btc
from merchants.errors import MerchantSuspended, PaymentRequestClosed
from merchants.ids import random_id
from merchants.models import (
    Invoice,
    InvoiceStatus,
    Merchant,
    PaymentRequest,
    PaymentRequestInvoice,
)
from merchants.services.invoices import invoice_create

TITLE_MAX = 200
DESCRIPTION_MAX = 4000
INVOICE_MINUTES = 15
REQUESTS_PER_STORE_MAX = 10_000


class PaymentRequestStatus:
    PENDING = "Pending"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    EXPIRED = "Expired"


@dataclass(frozen=True)
class RequestState:
    status: str
    settled_minor: int
    processing_minor: int
    due_minor: int
    pending_invoice: Invoice | None


def _invoice_paid_minor(invoice: Invoice) -> int:
    """What an invoice counts towards its request, in the request's currency."""
    if invoice.status == InvoiceStatus.INVALID:
        return 0
    if invoice.paid_sats >= invoice.threshold_sats:
        return invoice.amount_minor
    if invoice.currency == "BTC":
        return invoice.paid_sats
    return kzt_for_btc(invoice.paid_sats, invoice.rate_minor_per_btc)


def payment_request_state(pr: PaymentRequest, *, now: datetime | None = None) -> RequestState:
    """Return the request's status (Greenfield's) from its invoices."""
    now = now or timezone.now()
    invoices = [link.invoice for link in pr.links.select_related("invoice", "invoice__merchant")]
    settled = sum(_invoice_paid_minor(i) for i in invoices if i.status == InvoiceStatus.SETTLED)
    processing = sum(
        _invoice_paid_minor(i) for i in invoices if i.status == InvoiceStatus.PROCESSING
    )
    pending = next(
        (
            i
            for i in invoices
            if i.status == InvoiceStatus.NEW and i.expires_at > now and not i.paid_sats
        ),
        None,
    )
    if settled >= pr.amount_minor:
        status = PaymentRequestStatus.COMPLETED
    elif settled + processing >= pr.amount_minor:
        status = PaymentRequestStatus.PROCESSING
    elif pr.expires_at is not None and pr.expires_at <= now:
        status = PaymentRequestStatus.EXPIRED
    else:
        status = PaymentRequestStatus.PENDING
    due = max(pr.amount_minor - settled - processing, 0)
    return RequestState(status, settled, processing, due, pending)


def _clean(
    *, title: Any, amount: Any, currency: Any, description: Any, expires_at: Any
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    title = " ".join(str(title or "").split())
    if not title or len(title) > TITLE_MAX:
        errors["title"] = [f"1 to {TITLE_MAX} characters."]
    cur = str(currency or "KZT").upper()
    if cur not in Currency.__members__:
        errors["currency"] = ["Use BTC or KZT."]
    description = str(description or "")
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"At most {DESCRIPTION_MAX} characters."]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expiryDate"] = ["Must be in the future."]
    if errors:
        raise ValidationFailed("Invalid payment request", fields=errors)
    amount_minor = parse_amount(str(amount), cur)
    if amount_minor <= 0:
        raise ValidationFailed("Amount must be positive", fields={"amount": ["More than 0."]})
    return {
        "title": title,
        "currency": cur,
        "amount_minor": amount_minor,
        "description": description,
        "expires_at": expires_at,
    }


def payment_request_create(
    *,
    merchant: Merchant,
    title: Any,
    amount: Any,
    currency: Any = "KZT",
    description: Any = "",
    expires_at: datetime | None = None,
    reference_id: str = "",
    email: str = "",
    allow_custom_amounts: bool = False,
    actor: Any,
) -> PaymentRequest:
    """Create a payment request (a public link) for an amount, with an expiry and a memo."""
    if not merchant.is_active:
        raise MerchantSuspended()
    data = _clean(
        title=title, amount=amount, currency=currency, description=description,
        expires_at=expires_at,
    )  # fmt: skip
    with transaction.atomic():
        if PaymentRequest.objects.filter(merchant=merchant).count() >= REQUESTS_PER_STORE_MAX:
            raise ValidationFailed("Too many payment requests; archive old ones first.")
        pr = PaymentRequest.objects.create(
            id=random_id(22),
            merchant=merchant,
            reference_id=str(reference_id or "")[:200],
            email=str(email or "")[:254],
            allow_custom_amounts=bool(allow_custom_amounts),
            created_by=actor if getattr(actor, "pk", None) else None,
            **data,
        )
        audit_record(
            actor=actor,
            action="payment_request.create",
            obj=pr,
            data={"amount_minor": pr.amount_minor, "currency": pr.currency, "title": pr.title},
        )
    return pr


def payment_request_update(
    *, merchant: Merchant, request_id: str, actor: Any, **fields: Any
) -> PaymentRequest:
    """Replace a request's title, amount, currency, memo and expiry (before anything is paid)."""
    with transaction.atomic():
        pr = _lock(merchant=merchant, request_id=request_id)
        state = payment_request_state(pr)
        if state.settled_minor or state.processing_minor:
            raise PaymentRequestClosed("A payment request that received money cannot be changed.")
        data = _clean(**fields)
        for name, value in data.items():
            setattr(pr, name, value)
        pr.save(update_fields=list(data))
        audit_record(actor=actor, action="payment_request.update", obj=pr, data={"title": pr.title})
    return pr


def _lock(*, merchant: Merchant | None, request_id: str) -> PaymentRequest:
    query = PaymentRequest.objects.select_for_update(of=("self",)).select_related("merchant")
    if merchant is not None:
        query = query.filter(merchant=merchant)
    pr = query.filter(pk=request_id).first()
    if pr is None:
        raise NotFound("Payment request not found")
    return pr


def payment_request_archive(*, merchant: Merchant, request_id: str, actor: Any) -> PaymentRequest:
    """Archive a request: its link stops taking payments; its invoices keep working."""
    with transaction.atomic():
        pr = _lock(merchant=merchant, request_id=request_id)
        if not pr.archived:
            pr.archived = True
            pr.save(update_fields=["archived"])
            audit_record(actor=actor, action="payment_request.archive", obj=pr)
    return pr


def payment_request_pay(
    *, request_id: str, amount: Any = None, reuse_pending: bool = True, actor: Any = None
) -> Invoice:
    """Return an invoice for what is due on a request: a pending one, or a new one.

    The request row is locked, so two payers at once get one invoice each for
    the amount due (never a second invoice for money already on its way).
    """
    with transaction.atomic():
        pr = _lock(merchant=None, request_id=request_id)
        state = payment_request_state(pr)
        if pr.archived:
            raise PaymentRequestClosed("This payment request was archived.")
        if state.status == PaymentRequestStatus.EXPIRED:
            raise PaymentRequestClosed("This payment request has expired.")
        if state.due_minor <= 0:
            raise PaymentRequestClosed("This payment request is already paid.")
        due = state.due_minor
        if amount is not None:
            if not pr.allow_custom_amounts:
                raise ValidationFailed(
                    "Custom amounts are not allowed",
                    fields={"amount": ["This request takes only the amount due."]},
                )
            due = parse_amount(str(amount), pr.currency)
            if not 0 < due <= state.due_minor:
                raise ValidationFailed(
                    "Amount out of range", fields={"amount": ["Up to the amount due."]}
                )
        pending = state.pending_invoice
        if reuse_pending and pending is not None and pending.amount_minor == due:
            return pending
        invoice = invoice_create(
            merchant=pr.merchant,
            amount=format_amount(due, pr.currency),
            currency=pr.currency,
            metadata={
                "orderId": pr.reference_id or f"PR-{pr.id}",
                "paymentRequestId": pr.id,
                "itemDesc": pr.title,
                **({"buyerEmail": pr.email} if pr.email else {}),
            },
            checkout={"expirationMinutes": _invoice_minutes(pr)},
            actor=actor,
        )
        PaymentRequestInvoice.objects.create(payment_request=pr, invoice=invoice)
    return invoice


def _invoice_minutes(pr: PaymentRequest) -> int:
    """An invoice lives 15 minutes, or until the request expires if that is sooner."""
    if pr.expires_at is None:
        return INVOICE_MINUTES
    left = int((pr.expires_at - timezone.now()).total_seconds() // 60)
    return max(1, min(INVOICE_MINUTES, left))


def payment_request_invoices(pr: PaymentRequest) -> list[Invoice]:
    return [link.invoice for link in pr.links.select_related("invoice").order_by("-created_at")]
