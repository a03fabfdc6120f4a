"""Refunds of settled invoices: in-bank to the paying customer, or on-chain via custody."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Sum

from accounts.actor import Actor
from accounts.models import TransferCode
from accounts.services import transfer_create
from audit.chain import audit_record
from core.errors import ValidationFailed
from core.money import format_amount
from custody.models import Withdrawal, WithdrawalStatus
from custody.services.withdrawals import withdrawal_request
from merchants.errors import RefundNotAllowed
from merchants.models import InvoiceStatus, PaymentMethod, Refund, RefundMethod
from merchants.services.invoices import invoice_lock
from merchants.services.spendable import merchant_spendable_check

REFUNDABLE = (InvoiceStatus.SETTLED, InvoiceStatus.INVALID, InvoiceStatus.EXPIRED)
WITHDRAWAL_UNDONE = (WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED, WithdrawalStatus.FAILED)


def invoice_refund(
    *,
    merchant: Any,
    invoice_id: str,
    method: str,
    amount_sats: int | None,
    address: str = "",
    actor: Actor,
    client_address: str | None = None,
) -> Refund:
    """Refund up to what an invoice received, from the merchant's BTC account.

    ``InBank`` credits the customer's account that paid in-bank, at once.
    ``OnChain`` requests a withdrawal from the merchant's account to ``address``
    (custody's screening and review rules apply; the merchant pays the bank's
    withdrawal fee). Refunds never exceed what the invoice received in total.
    """
    if method not in RefundMethod.values:
        raise ValidationFailed("Unknown refund method", fields={"method": ["InBank or OnChain."]})
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        if invoice.status not in REFUNDABLE or invoice.paid_sats == 0:
            raise RefundNotAllowed(
                "Only paid invoices that are settled, expired or invalid can be refunded."
            )
        amount = _refund_amount(invoice, amount_sats)
        merchant_spendable_check(account_id=merchant.btc_account_id, amount_minor=amount)
        # Refuse before writing anything: no refund row is created and rolled back.
        payer_account_id: int | None = None
        if method == RefundMethod.IN_BANK:
            payment = invoice.payments.filter(method=PaymentMethod.BANK).first()
            if payment is None or payment.payer_account_id is None:
                raise RefundNotAllowed("This invoice was not paid in-bank; refund on-chain.")
            payer_account_id = payment.payer_account_id
        elif not address.strip():
            raise ValidationFailed("An address is required", fields={"address": ["Required."]})
        refund = Refund.objects.create(
            invoice=invoice,
            method=method,
            amount_sats=amount,
            address=address.strip(),
            created_by=actor,
        )
        _refund_pay(
            refund,
            merchant=merchant,
            payer_account_id=payer_account_id,
            actor=actor,
            client_address=client_address,
        )
        audit_record(
            actor=actor,
            action="invoice.refund",
            obj=refund,
            data={"invoice": invoice.id, "method": method, "amount_sats": amount},
            client_address=client_address,
        )
    return refund


def _refund_amount(invoice: Any, amount_sats: int | None) -> int:
    """Return the amount to refund: all that is left by default, never more than that."""
    refunded = _refunded_sats(invoice)
    left = invoice.paid_sats - refunded
    amount = left if amount_sats is None else amount_sats
    if amount <= 0 or amount > left:
        raise ValidationFailed(
            "Refund amount out of range",
            fields={"amount": [f"At most {format_amount(left, 'BTC', with_code=True)} is left."]},
        )
    return amount


def _refunded_sats(invoice: Any) -> int:
    """What counts against the refund cap: every refund but on-chain ones that never left.

    An on-chain refund whose withdrawal was rejected, cancelled or failed returned its
    hold to the merchant, so it frees the cap again.
    """
    failed = Withdrawal.objects.filter(
        pk__in=invoice.refunds.exclude(withdrawal_id=None).values("withdrawal_id"),
        status__in=WITHDRAWAL_UNDONE,
    ).values("pk")
    counted = invoice.refunds.exclude(withdrawal_id__in=failed)
    return int(counted.aggregate(total=Sum("amount_sats"))["total"] or 0)


def _refund_pay(
    refund: Refund,
    *,
    merchant: Any,
    payer_account_id: int | None,
    actor: Actor,
    client_address: str | None,
) -> None:
    """Pay ``refund`` in-bank to ``payer_account_id``, or else on-chain to its address."""
    if payer_account_id is not None:
        refund.transfer = transfer_create(
            debit_account_id=merchant.btc_account_id,
            credit_account_id=payer_account_id,
            amount_minor=refund.amount_sats,
            code=TransferCode.REFUND,
            initiator=actor,
            idempotency_key=f"refund:{refund.pk}",
            memo=f"Refund of invoice {refund.invoice.id}",
            source=refund,
            client_address=client_address,
        )
        refund.save(update_fields=["transfer"])
    else:
        withdrawal = withdrawal_request(
            account=merchant.btc_account,
            address=refund.address,
            amount_sats=refund.amount_sats,
            requested_by=merchant.owner,
            idempotency_key=f"refund:{refund.pk}",
            client_address=client_address,
        )
        refund.withdrawal_id = withdrawal.pk
        refund.save(update_fields=["withdrawal_id"])
