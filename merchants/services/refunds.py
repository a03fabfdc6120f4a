"""Refunds of settled invoices: in-bank to the paying customer, or on-chain via custody."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.actor import Actor
from accounts.models import TransferCode
from accounts.services import transfer_create
from audit.chain import audit_record
from core.errors import ValidationFailed, invariant
from core.money import format_amount
from custody.services.withdrawals import (
    CheckedAddress,
    withdrawal_address_checked,
    withdrawal_request,
)
from merchants.errors import RefundNotAllowed
from merchants.models import InvoiceStatus, PaymentMethod, Refund, RefundMethod
from merchants.services.invoices import invoice_lock
from merchants.services.pull_payments import invoice_refund_reserved_sats
from merchants.services.refund_exchange import (
    BuyBack,
    invoice_kzt_settled,
    refund_buyback_book,
    refund_buyback_lock,
)
from merchants.services.spendable import merchant_spendable_check

REFUNDABLE = (InvoiceStatus.SETTLED, InvoiceStatus.INVALID, InvoiceStatus.EXPIRED)


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
    withdrawal fee). Refunds never exceed what the invoice received in total. An
    ``OnChain`` address is checked (with the node) before the invoice is locked.
    An invoice settled to KZT first buys back, with the store's tenge, the bitcoin
    the refund pays out (``refund_exchange``), in this same transaction.
    """
    if method not in RefundMethod.values:
        raise ValidationFailed("Unknown refund method", fields={"method": ["InBank or OnChain."]})
    destination: CheckedAddress | None = None
    if method == RefundMethod.ON_CHAIN and address.strip():
        destination = withdrawal_address_checked(address.strip())
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        if invoice.status not in REFUNDABLE or invoice.paid_sats == 0:
            raise RefundNotAllowed(
                "Only paid invoices that are settled, expired or invalid can be refunded."
            )
        amount = refund_amount_checked(invoice, amount_sats)
        # Refuse before writing anything: no refund row is created and rolled back.
        payer_account_id: int | None = None
        if method == RefundMethod.IN_BANK:
            payer_account_id = _payer_account_id(invoice)
        elif destination is None:
            raise ValidationFailed("An address is required", fields={"address": ["Required."]})
        buyback = _funds_checked(invoice, merchant, method, amount, payer_account_id)
        refund = Refund.objects.create(
            invoice=invoice,
            method=method,
            amount_sats=amount,
            address=address.strip(),
            created_by=actor,
        )
        if buyback is not None:
            refund_buyback_book(
                refund=refund,
                merchant=merchant,
                price=buyback,
                actor=actor,
                client_address=client_address,
            )
        if payer_account_id is not None:
            _in_bank(refund, merchant, payer_account_id, actor, client_address)
        else:
            invariant(destination is not None, "an on-chain refund has a checked address")
            assert destination is not None  # for the type checker; invariant() holds under -O
            _on_chain(refund, merchant, destination, client_address)
        audit_record(
            actor=actor,
            action="invoice.refund",
            obj=refund,
            data={"invoice": invoice.id, "method": method, "amount_sats": amount},
            client_address=client_address,
        )
    return refund


def refund_debit_sats(method: str, amount_sats: int) -> int:
    """Return what a refund takes from the store's BTC account: an on-chain one pays the fee."""
    fee = int(settings.WITHDRAWAL_FEE_SATS) if method == RefundMethod.ON_CHAIN else 0
    return amount_sats + fee


def _funds_checked(
    invoice: Any, merchant: Any, method: str, amount: int, payer_account_id: int | None
) -> BuyBack | None:
    """Check the store can pay the refund; for a KZT-settled invoice, lock and price the buy-back.

    The store's bitcoin from a KZT-settled invoice was sold: its tenge buys back what the
    refund pays out (``refund_buyback_lock`` refuses a short KZT balance, under the lock).
    """
    if not invoice_kzt_settled(invoice):
        merchant_spendable_check(account_id=merchant.btc_account_id, amount_minor=amount)
        return None
    also = [payer_account_id] if payer_account_id is not None else []
    return refund_buyback_lock(merchant=merchant, sats=refund_debit_sats(method, amount), also=also)


def _payer_account_id(invoice: Any) -> int:
    """Return the account that paid the invoice in-bank; refuse an invoice paid on-chain."""
    payment = invoice.payments.filter(method=PaymentMethod.BANK).first()
    if payment is None or payment.payer_account_id is None:
        raise RefundNotAllowed("This invoice was not paid in-bank; refund on-chain.")
    return int(payment.payer_account_id)


def refund_amount_checked(invoice: Any, amount_sats: int | None) -> int:
    """Return the refund's amount: what is asked, or all that is left; never more.

    The one cap rule: the refund service and the web door's pre-check both call it.

    Pull payments (Greenfield refunds) count too: their amount is promised.
    """
    left = invoice.paid_sats - invoice_refund_reserved_sats(invoice)
    amount = left if amount_sats is None else amount_sats
    if amount <= 0 or amount > left:
        raise ValidationFailed(
            "Refund amount out of range",
            fields={"amount": [f"At most {format_amount(left, 'BTC', with_code=True)} is left."]},
        )
    return int(amount)


def _in_bank(
    refund: Refund, merchant: Any, payer_account_id: int, actor: Actor, client_address: str | None
) -> None:
    """Credit the account that paid in-bank (inside the refund's transaction)."""
    refund.transfer = transfer_create(
        debit_account_id=merchant.btc_account_id,
        credit_account_id=payer_account_id,
        amount_minor=refund.amount_sats,
        code=TransferCode.REFUND,
        initiator=actor,
        idempotency_key=f"refund:{refund.pk}",
        memo=f"Refund of invoice {refund.invoice_id}",
        source=refund,
        client_address=client_address,
    )
    refund.save(update_fields=["transfer"])


def _on_chain(
    refund: Refund, merchant: Any, destination: CheckedAddress, client_address: str | None
) -> None:
    """Request the withdrawal that pays the refund out (inside the refund's transaction)."""
    withdrawal = withdrawal_request(
        account=merchant.btc_account,
        address=destination,
        amount_sats=refund.amount_sats,
        requested_by=merchant.owner,
        idempotency_key=f"refund:{refund.pk}",
        client_address=client_address,
    )
    refund.withdrawal_id = withdrawal.pk
    refund.save(update_fields=["withdrawal_id"])
