"""Greenfield refunds as pull payments, claims (payouts), approval, cancellation, mark-paid.

Creating a pull payment or claiming it moves no money. Approval does: it starts a
withdrawal from the merchant's BTC account through custody (screening, review and
limits as for any payout), so the bank's controls hold whichever door asked.
An invoice's refunds (instant ones and pull payments together) never exceed what it
received; each service locks the row it counts against (invoice, pull payment, payout).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum

from audit.chain import audit_record
from core.errors import NotFound, ServiceUnavailable, ValidationFailed
from core.money import format_amount, parse_amount
from custody.addresses import address_parse
from custody.errors import AddressInvalid
from custody.models import Withdrawal, WithdrawalStatus
from custody.services.withdrawals import withdrawal_address_checked
from exchange.services import btc_for_kzt, exchange_rate_current, pricing_rate_fresh
from merchants.errors import MerchantErrorCode, NotRefundable, QuoteUnavailable
from merchants.ids import random_id
from merchants.models import (
    Invoice,
    InvoiceStatus,
    Merchant,
    PayoutState,
    PullPayment,
    PullPaymentPayout,
    WebhookEvent,
)
from merchants.services.invoices import invoice_lock
from merchants.services.payouts import merchant_payout_request
from merchants.services.webhooks import webhook_store_event_emit

REFUND_VARIANTS = ("RateThen", "CurrentRate", "OverpaidAmount", "Fiat", "Custom")
REFUNDABLE = (InvoiceStatus.SETTLED, InvoiceStatus.INVALID, InvoiceStatus.EXPIRED)
PAYOUT_METHOD = "BTC-CHAIN"


class PayoutNotFound(NotFound):
    """The payout does not exist or is not yours."""

    code = MerchantErrorCode.PAYOUT_NOT_FOUND


class PullPaymentNotFound(NotFound):
    """The pull payment does not exist."""

    code = MerchantErrorCode.PULLPAYMENT_NOT_FOUND


def invoice_refund_reserved_sats(invoice: Invoice) -> int:
    """What an invoice has already given back or promised: instant refunds + pull payments.

    A live pull payment reserves its whole amount; an archived one what its
    payouts took (those not cancelled).
    """
    # An on-chain refund whose withdrawal was rejected, cancelled or failed returned its
    # hold to the merchant: it frees the cap again.
    undone = Withdrawal.objects.filter(
        pk__in=invoice.refunds.exclude(withdrawal_id=None).values("withdrawal_id"),
        status__in=(WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED, WithdrawalStatus.FAILED),
    ).values("pk")
    counted = invoice.refunds.exclude(withdrawal_id__in=undone)
    instant = counted.aggregate(total=Sum("amount_sats"))["total"] or 0
    live = invoice.pull_payments.filter(archived=False).aggregate(t=Sum("amount_sats"))["t"] or 0
    spent = (
        PullPaymentPayout.objects.filter(pull_payment__invoice=invoice, pull_payment__archived=True)
        .exclude(state=PayoutState.CANCELLED)
        .aggregate(t=Sum("amount_sats"))["t"]
        or 0
    )
    return int(instant) + int(live) + int(spent)


def _percentage(text: Any) -> Decimal:
    try:
        value = Decimal(str(text if text not in (None, "") else "0"))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 <= value <= 100:
        raise ValidationFailed(
            "Bad percentage", fields={"subtractPercentage": ["A percentage from 0 to 100."]}
        )
    return value


def _current_sats_for_tiyn(tiyn: int) -> int:
    rate = exchange_rate_current()
    if rate is None or rate.mid_tiyn_per_btc <= 0:
        raise QuoteUnavailable("No BTC/KZT rate is set; refund at the rate then.")
    return btc_for_kzt(tiyn, int(rate.mid_tiyn_per_btc), rounding="down")


def _current_sats_for_fiat(minor: int, currency: str) -> int:
    try:
        rate = pricing_rate_fresh(currency=currency)
    except ServiceUnavailable as exc:
        raise QuoteUnavailable(f"{exc.message} Refund at the rate then.") from exc
    return btc_for_kzt(minor, int(rate.minor_per_btc), rounding="down")


def _variant_sats(invoice: Invoice, variant: str, custom: dict[str, Any]) -> int:
    """The refund before the subtracted percentage, in satoshis, per ``refundVariant``."""
    price = invoice.paid_sats if invoice.is_topup else min(invoice.amount_sats, invoice.paid_sats)
    if variant == "RateThen":
        return price
    if variant == "CurrentRate":
        if invoice.currency == "BTC" or invoice.is_topup:
            return price
        if invoice.currency != "KZT":  # USD/EUR: the price at today's pricing rate
            return _current_sats_for_fiat(invoice.amount_minor, invoice.currency)
        return _current_sats_for_tiyn(invoice.amount_minor)
    if variant == "OverpaidAmount":
        over = invoice.paid_sats - invoice.amount_sats
        if invoice.is_topup or over <= 0:
            raise ValidationFailed(
                "Not overpaid", fields={"refundVariant": ["This invoice was not overpaid."]}
            )
        return over
    if variant == "Custom":
        currency = str(custom.get("customCurrency") or "").upper()
        if currency not in ("BTC", "KZT"):
            raise ValidationFailed(
                "Bad custom currency", fields={"customCurrency": ["BTC or KZT."]}
            )
        minor = parse_amount(str(custom.get("customAmount") or ""), currency, field="customAmount")
        return minor if currency == "BTC" else _current_sats_for_tiyn(minor)
    raise ValidationFailed(
        "Unsupported refund variant",
        fields={"refundVariant": ["Fiat refunds are not offered: Alatau refunds bitcoin."]},
    )


def invoice_refund_pull_payment(
    *,
    merchant: Merchant,
    invoice_id: str,
    variant: str,
    subtract_percentage: Any = None,
    custom: dict[str, Any] | None = None,
    name: str | None = None,
    description: str = "",
    actor: Any,
) -> PullPayment:
    """Create a pull payment that refunds an invoice (Greenfield's ``Invoices_Refund``)."""
    if variant not in REFUND_VARIANTS:
        raise ValidationFailed(
            "Unknown refund variant",
            fields={"refundVariant": [f"One of {', '.join(REFUND_VARIANTS)}."]},
        )
    percentage = _percentage(subtract_percentage)
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        if invoice.status not in REFUNDABLE or invoice.paid_sats == 0:
            raise NotRefundable()
        gross = _variant_sats(invoice, variant, custom or {})
        amount = int(Decimal(gross) * (100 - percentage) / 100)
        left = invoice.paid_sats - invoice_refund_reserved_sats(invoice)
        if amount <= 0 or amount > left:
            raise ValidationFailed(
                "Refund amount out of range",
                fields={
                    "refundVariant": [f"At most {format_amount(max(left, 0), 'BTC')} BTC is left."]
                },
            )
        pull = PullPayment.objects.create(
            id=random_id(22),
            merchant=merchant,
            invoice=invoice,
            name=(name or f"Refund {invoice.id}")[:200],
            description=(description or "")[:2000],
            amount_sats=amount,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="invoice.refund.pull_payment",
            obj=pull,
            data={"invoice": invoice.id, "variant": variant, "amount_sats": amount},
        )
    return pull


def _payout_event(claim: PullPaymentPayout, event_type: str) -> None:
    webhook_store_event_emit(
        merchant=claim.pull_payment.merchant,
        event_type=event_type,
        extra={
            "payoutId": claim.id,
            "pullPaymentId": claim.pull_payment_id,
            "payoutState": claim.state,
        },
    )


def pull_payment_claim(
    *, pull_payment_id: str, destination: Any, amount: Any, payout_method: Any
) -> PullPaymentPayout:
    """Claim a pull payment to an address (anyone holding its id may, as in BTCPay)."""
    if payout_method not in (None, "", PAYOUT_METHOD, "BTC"):
        raise ValidationFailed(
            "Unsupported payout method", fields={"payoutMethodId": ["BTC-CHAIN only."]}
        )
    try:
        address = address_parse(destination if isinstance(destination, str) else "").address
    except AddressInvalid as exc:
        raise ValidationFailed(exc.message, fields={"destination": [exc.message]}) from None
    with transaction.atomic():
        pull = PullPayment.objects.select_for_update().filter(pk=pull_payment_id).first()
        if pull is None or pull.archived:
            raise PullPaymentNotFound()
        taken = (
            pull.payouts.exclude(state=PayoutState.CANCELLED).aggregate(t=Sum("amount_sats"))["t"]
            or 0
        )
        left = pull.amount_sats - int(taken)
        sats = left if amount in (None, "") else parse_amount(str(amount), "BTC")
        if sats <= 0 or sats > left:
            raise ValidationFailed(
                "Amount out of range",
                fields={"amount": [f"At most {format_amount(max(left, 0), 'BTC')} BTC is left."]},
            )
        claim = PullPaymentPayout.objects.create(
            id=random_id(22), pull_payment=pull, destination=address, amount_sats=sats
        )
        audit_record(actor=None, action="pull_payment.claim", obj=claim, data={"amount_sats": sats})
        _payout_event(claim, WebhookEvent.PAYOUT_CREATED)
    return claim


def _lock_claim(merchant: Merchant, payout_id: str) -> PullPaymentPayout:
    claim = (
        PullPaymentPayout.objects.select_for_update(of=("self",))
        .select_related("pull_payment__merchant")
        .filter(pk=payout_id, pull_payment__merchant=merchant)
        .first()
    )
    if claim is None:
        raise PayoutNotFound()
    return claim


def _refuse(claim: PullPaymentPayout, action: str) -> None:
    raise ValidationFailed(
        f"Cannot {action} a payout that is {claim.state}",
        fields={"": [f"The payout is {claim.state}."]},
    )


def payout_approve(
    *,
    merchant: Merchant,
    payout_id: str,
    revision: int | None,
    actor: Any,
    client_address: str | None,
) -> PullPaymentPayout:
    """Approve a claim: the bank starts the withdrawal from the merchant's BTC account.

    The claim's destination is checked with the node first, with nothing locked.
    """
    unlocked = PullPaymentPayout.objects.filter(
        pull_payment__merchant=merchant, pk=payout_id
    ).first()
    checked = withdrawal_address_checked(unlocked.destination) if unlocked else None
    with transaction.atomic():
        claim = _lock_claim(merchant, payout_id)
        if claim.state != PayoutState.AWAITING_APPROVAL:
            _refuse(claim, "approve")
        if revision is not None and revision != claim.revision:
            raise ValidationFailed("Old revision", fields={"revision": ["The payout changed."]})
        claim.payout = merchant_payout_request(
            merchant=merchant,
            amount_sats=claim.amount_sats,
            address=claim.destination,
            actor=actor,
            client_address=client_address,
            refund_claim=True,
            checked=checked if checked and checked.given == claim.destination else None,
        )
        claim.state = PayoutState.AWAITING_PAYMENT
        claim.save(update_fields=["payout", "state", "updated_at"])
        audit_record(actor=actor, action="pull_payment.approve", obj=claim, data={})
        _payout_event(claim, WebhookEvent.PAYOUT_APPROVED)
    return claim


def payout_cancel(*, merchant: Merchant, payout_id: str, actor: Any) -> PullPaymentPayout:
    """Cancel a claim the bank has not started paying; its amount is free to claim again."""
    with transaction.atomic():
        claim = _lock_claim(merchant, payout_id)
        if claim.state != PayoutState.AWAITING_APPROVAL:
            _refuse(claim, "cancel")
        claim.state = PayoutState.CANCELLED
        claim.save(update_fields=["state", "updated_at"])
        audit_record(actor=actor, action="pull_payment.cancel", obj=claim, data={})
        _payout_event(claim, WebhookEvent.PAYOUT_UPDATED)
    return claim


def payout_mark_paid(*, merchant: Merchant, payout_id: str, actor: Any) -> PullPaymentPayout:
    """Record that the merchant paid a claim outside the bank (no money moves here)."""
    with transaction.atomic():
        claim = _lock_claim(merchant, payout_id)
        if claim.state != PayoutState.AWAITING_APPROVAL:
            _refuse(claim, "mark paid")
        claim.state = PayoutState.COMPLETED
        claim.save(update_fields=["state", "updated_at"])
        audit_record(actor=actor, action="pull_payment.mark_paid", obj=claim, data={})
        _payout_event(claim, WebhookEvent.PAYOUT_UPDATED)
    return claim
