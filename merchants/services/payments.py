"""Paying invoices: instantly from an Alatau balance, or on-chain to the invoice's address."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AccountKind, AccountStatus, Transfer, TransferCode
from accounts.services import hold_create, hold_post
from accounts.services.holds import Leg
from accounts.services.twofactor import (
    transfer_2fa_threshold,
    transfer_needs_2fa,
    twofactor_check,
    twofactor_enabled,
)
from audit.chain import audit_record
from compliance.models import LimitKind
from compliance.services import limits_check
from core.errors import NotFound, ValidationFailed, invariant
from core.money import format_amount
from custody.models import AddressPurpose, Deposit, DepositStatus, SuspenseReason
from exchange.rates import kzt_value_tiyn
from merchants.errors import InvoiceAlreadyPaid, InvoiceNotPayable, MerchantSuspended
from merchants.models import Invoice, InvoicePayment, InvoiceStatus, PaymentMethod, PaymentStatus
from merchants.services.invoices import invoice_apply_payments, invoice_expire_if_due, invoice_lock

logger = logging.getLogger(__name__)

# Suspense reasons under which a payment is not (yet) the merchant's money.
NOT_THE_MERCHANTS = (SuspenseReason.SANCTIONED_SOURCE,)


def invoice_pay_in_bank(
    *,
    invoice_id: str,
    payer: Any,
    account_id: int,
    otp_code: str = "",
    client_address: str | None = None,
) -> InvoicePayment:
    """Pay what is due on an invoice from the payer's BTC account: a hold, then a transfer.

    The invoice row is locked, so two concurrent payments serialise; a second
    attempt by the same payer returns the first payment, by anyone else is a
    conflict. A unique constraint (one in-bank payment per invoice) backs this.
    The rules of a customer transfer apply: the KYC tier's transfer limits and,
    from ``TRANSFER_2FA_THRESHOLD_SATS``, a code from the payer's authenticator.
    """
    now = timezone.now()
    _second_factor(invoice_id, payer, otp_code)
    with transaction.atomic():
        invoice = invoice_lock(merchant=None, invoice_id=invoice_id)
        earlier = invoice.payments.filter(method=PaymentMethod.BANK).first()
        if earlier is not None:
            if earlier.payer_id == getattr(payer, "pk", None):
                return earlier
            raise InvoiceAlreadyPaid("This invoice was already paid.")
        if not invoice_expire_if_due(invoice, now=now):
            return _pay(invoice, payer, account_id, now, client_address)
    # The invoice expired just now: that change (and its event) commits, the payment is refused.
    raise InvoiceNotPayable("This invoice has expired and cannot be paid.")


def _second_factor(invoice_id: str, payer: Any, otp_code: str) -> None:
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None or invoice.payments.filter(method=PaymentMethod.BANK).exists():
        return  # unknown (404 below) or already paid (replayed or refused below)
    due = invoice.amount_sats - invoice.paid_sats
    if not transfer_needs_2fa(currency="BTC", amount_minor=due):
        return
    if not twofactor_enabled(payer):
        limit = format_amount(transfer_2fa_threshold("BTC"), "BTC", with_code=True)
        raise ValidationFailed(
            "Two-factor required",
            fields={"otp_code": [f"Turn on two-factor authentication to pay {limit} or more."]},
        )
    twofactor_check(user=payer, code=otp_code)


def _pay(
    invoice: Invoice, payer: Any, account_id: int, now: Any, client_address: str | None
) -> InvoicePayment:
    """Pay a locked, unexpired invoice (inside ``invoice_pay_in_bank``'s transaction)."""
    if invoice.status != InvoiceStatus.NEW:
        raise InvoiceNotPayable(f"This invoice is {invoice.status.lower()} and cannot be paid.")
    if invoice.is_topup or not invoice.offers(PaymentMethod.BANK):
        raise InvoiceNotPayable("This invoice is paid on-chain only.")
    if not invoice.merchant.is_active:
        raise MerchantSuspended("This merchant cannot take payments now.")
    account = Account.objects.filter(
        pk=account_id,
        owner=payer,
        kind=AccountKind.CUSTOMER,
        currency="BTC",
        status=AccountStatus.ACTIVE,
    ).first()
    if account is None:
        raise NotFound(
            "Account not found", fields={"account": ["Choose one of your BTC accounts."]}
        )
    due = invoice.amount_sats - invoice.paid_sats
    limits_check(
        user=payer,
        kind=LimitKind.TRANSFER,
        amount_kzt_tiyn=kzt_value_tiyn(amount_minor=due, currency="BTC"),
    )
    memo = f"Invoice {invoice.id} to {invoice.merchant.name}"[:255]
    hold = hold_create(
        account_id=account.pk,
        amount_minor=due,
        code=TransferCode.PAYMENT,
        initiator=payer,
        idempotency_key=f"invoice-pay:{invoice.id}",
        memo=memo,
        source=invoice,
        client_address=client_address,
    )
    hold = hold_post(
        hold_id=hold.pk,
        actor=payer,
        client_address=client_address,
        legs=[Leg(invoice.merchant.btc_account_id, due, TransferCode.PAYMENT, memo)],
    )
    invariant(hold.group_id is not None, "a posted hold has a group id")
    transfer = Transfer.objects.get(group_id=hold.group_id or "")
    payment = InvoicePayment.objects.create(
        invoice=invoice,
        method=PaymentMethod.BANK,
        amount_sats=due,
        status=PaymentStatus.SETTLED,
        transfer=transfer,
        payer=payer,
        payer_account=account,
        settled_at=now,
    )
    audit_record(
        actor=payer,
        action="invoice.pay_in_bank",
        obj=invoice,
        data={"amount_sats": due, "account": account.pk, "transfer": transfer.pk},
        client_address=client_address,
    )
    invoice_apply_payments(invoice, now=now, new_payment=payment, newly_settled=[payment])
    return payment


def invoice_deposit_listener(deposit: Deposit) -> None:
    """Custody's deposit listener (``CUSTODY_DEPOSIT_LISTENERS``): follow invoice payments.

    Called after commit whenever the scanner records a deposit, sees its
    confirmations change, credits it, or marks it reorged. Only deposits to
    invoice addresses matter here; the rest are ignored.
    """
    address = deposit.deposit_address
    if address is None or address.purpose != AddressPurpose.INVOICE:
        return
    invoice_onchain_observe(deposit_id=deposit.pk)


def invoice_onchain_observe(*, deposit_id: int) -> InvoicePayment | None:
    """Bring an invoice's on-chain payment in line with its custody deposit (idempotent).

    A payment is Settled exactly when custody credited the deposit to the
    merchant (after the speed policy's confirmations), Invalid when reorged or
    dust, else Processing.
    """
    now = timezone.now()
    with transaction.atomic():
        deposit = Deposit.objects.select_related("deposit_address").filter(pk=deposit_id).first()
        if deposit is None or deposit.deposit_address_id is None:
            return None
        invoice = (
            Invoice.objects.select_for_update(of=("self",)).select_related("merchant")
            .filter(deposit_address_id=deposit.deposit_address_id).first()
        )  # fmt: skip
        if invoice is None:
            return None
        status = _payment_status(deposit)
        payment = InvoicePayment.objects.select_for_update().filter(deposit_id=deposit.pk).first()
        new_payment, newly_settled = None, []
        if payment is None:
            if status == PaymentStatus.INVALID:
                return None  # never seen as valid: nothing to record on the invoice
            payment = InvoicePayment.objects.create(
                invoice=invoice,
                method=PaymentMethod.CHAIN,
                amount_sats=deposit.amount_sats,
                status=status,
                confirmations=max(deposit.confirmations, 0),
                deposit_id=deposit.pk,
                txid=deposit.txid,
                vout=deposit.vout,
                after_expiration=deposit.seen_at > invoice.expires_at
                or invoice.status == InvoiceStatus.EXPIRED,
                settled_at=now if status == PaymentStatus.SETTLED else None,
            )
            new_payment = payment
            if status == PaymentStatus.SETTLED:
                newly_settled.append(payment)
        else:
            confirmations = max(deposit.confirmations, 0)
            changed = payment.status != status or payment.confirmations != confirmations
            if not changed:
                return payment
            if status == PaymentStatus.SETTLED and payment.status != PaymentStatus.SETTLED:
                payment.settled_at = now
                newly_settled.append(payment)
            payment.status, payment.confirmations = status, confirmations
            payment.save(update_fields=["status", "confirmations", "settled_at"])
        audit_record(
            actor=None,
            action="invoice.onchain_payment",
            obj=invoice,
            data={
                "deposit": deposit.pk,
                "amount_sats": deposit.amount_sats,
                "payment_status": status,
                "confirmations": deposit.confirmations,
            },
        )
        invoice_apply_payments(
            invoice, now=now, new_payment=new_payment, newly_settled=newly_settled
        )
    return payment


def _payment_status(deposit: Deposit) -> str:
    if deposit.status in (DepositStatus.REORGED, DepositStatus.DUST) or deposit.confirmations < 0:
        return PaymentStatus.INVALID
    if deposit.status == DepositStatus.SUSPENSE and deposit.suspense_reason in NOT_THE_MERCHANTS:
        # A sanctioned source: the money is not the merchant's unless compliance clears it,
        # so the payment stays Processing (BTCPay's "received, not final"), never Settled.
        return PaymentStatus.PROCESSING
    if deposit.status in (DepositStatus.CREDITED, DepositStatus.SUSPENSE):
        # Suspense otherwise: the merchant account was frozen; the money is safe in
        # suspense with a case, and it is the merchant's.
        return PaymentStatus.SETTLED
    return PaymentStatus.PROCESSING
