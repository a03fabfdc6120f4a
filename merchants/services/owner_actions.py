"""What a store's owner does from the web door with a second factor: refunds, conversions.

The merchant web door moves money only after the owner's 2FA code, as the
customer door does for withdrawals; the API door has its own key scopes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import Account
from accounts.services.twofactor import twofactor_check, twofactor_enabled
from core.errors import PermissionDenied, ValidationFailed
from core.money import check_minor, format_amount
from custody.services.withdrawal_addresses import address_syntax_check
from exchange.services import exchange_rate_current
from merchants.errors import InvoiceNotFound, QuoteUnavailable, RefundNotAllowed
from merchants.models import Invoice, Merchant, PaymentMethod, Payout, Refund, RefundMethod
from merchants.services.payouts import merchant_convert_to_kzt
from merchants.services.refund_exchange import (
    invoice_kzt_settled,
    kzt_funds_check,
    merchant_kzt_available,
    refund_buyback_price,
)
from merchants.services.refunds import (
    REFUNDABLE,
    invoice_refund,
    refund_amount_checked,
    refund_debit_sats,
)


def funds_check(merchant: Merchant, amount_sats: int, *, fee_sats: int = 0) -> None:
    """Refuse, before any code is asked for, what the store's BTC balance cannot cover."""
    account = Account.objects.get(pk=merchant.btc_account_id)
    available = account.posted_minor - account.held_minor
    if amount_sats + fee_sats > available:
        have = format_amount(available, "BTC", with_code=True)
        fee = f" plus the {format_amount(fee_sats, 'BTC', with_code=True)} fee" if fee_sats else ""
        raise ValidationFailed(
            "Insufficient funds",
            fields={"amount": [f"The store has {have} available; this needs the amount{fee}."]},
        )


def withdrawal_bounds_check(amount_sats: int) -> None:
    low, high = int(settings.WITHDRAWAL_MIN_SATS), int(settings.WITHDRAWAL_MAX_SATS)
    if not low <= amount_sats <= high:
        raise ValidationFailed(
            "Amount out of bounds",
            fields={
                "amount": [
                    f"From {format_amount(low, 'BTC', with_code=True)} "
                    f"to {format_amount(high, 'BTC', with_code=True)}."
                ]
            },
        )


def refund_precheck(
    *, merchant: Merchant, invoice_id: str, method: str, amount_sats: int | None, address: str
) -> None:
    """Check a refund as ``invoice_refund`` will, before the owner spends a 2FA code on it."""
    invoice = Invoice.objects.filter(merchant=merchant, pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound()
    if invoice.status not in REFUNDABLE or invoice.paid_sats == 0:
        raise RefundNotAllowed(
            "Only paid invoices that are settled, expired or invalid can be refunded."
        )
    amount = refund_amount_checked(invoice, amount_sats)
    fee = 0
    if method == RefundMethod.IN_BANK:
        if not invoice.payments.filter(method=PaymentMethod.BANK).exists():
            raise RefundNotAllowed("This invoice was not paid in-bank; refund on-chain.")
    elif method == RefundMethod.ON_CHAIN:
        if not address.strip():
            raise ValidationFailed("An address is required", fields={"address": ["Required."]})
        address_syntax_check(address)
        withdrawal_bounds_check(amount)
        fee = int(settings.WITHDRAWAL_FEE_SATS)
    else:
        raise ValidationFailed("Unknown refund method", fields={"method": ["InBank or OnChain."]})
    if invoice_kzt_settled(invoice):  # the store's tenge buys the refund's bitcoin back
        price = refund_buyback_price(sats=refund_debit_sats(method, amount))
        kzt_funds_check(available_tiyn=merchant_kzt_available(merchant), price=price)
    else:
        funds_check(merchant, amount, fee_sats=fee)


def owner_second_factor(merchant: Merchant, actor: Any, otp_code: str) -> None:
    """Refuse unless ``actor`` owns the store and gives a valid 2FA code."""
    if getattr(actor, "pk", None) != merchant.owner_id:
        raise PermissionDenied("Only the store's owner may do this.")
    if not twofactor_enabled(actor):
        raise ValidationFailed(
            "Two-factor required",
            fields={"otp_code": ["Turn on two-factor authentication under Security first."]},
        )
    twofactor_check(user=actor, code=otp_code)


def conversion_with_second_factor(
    *, merchant: Merchant, amount_sats: int, otp_code: str, actor: Any,
    client_address: str | None = None,
) -> Payout:  # fmt: skip
    """Convert the store's BTC to KZT from the web door (the owner's 2FA first)."""
    check_minor(amount_sats, "BTC")
    if amount_sats <= 0:
        raise ValidationFailed("Amount must be positive", fields={"amount": ["More than 0."]})
    if exchange_rate_current() is None:
        raise QuoteUnavailable("No BTC/KZT rate is set; conversions are not available now.")
    funds_check(merchant, amount_sats)
    owner_second_factor(merchant, actor, otp_code)
    return merchant_convert_to_kzt(
        merchant=merchant, amount_sats=amount_sats, actor=actor, client_address=client_address
    )


def refund_with_second_factor(
    *,
    merchant: Merchant,
    invoice_id: str,
    method: str,
    amount_sats: int | None,
    address: str,
    otp_code: str,
    actor: Any,
    client_address: str | None = None,
) -> Refund:
    """Refund an invoice (in-bank or on-chain) from the web door, after the owner's 2FA."""
    if amount_sats is not None:
        check_minor(amount_sats, "BTC")
    refund_precheck(
        merchant=merchant, invoice_id=invoice_id, method=method, amount_sats=amount_sats,
        address=address,
    )  # fmt: skip
    owner_second_factor(merchant, actor, otp_code)
    return invoice_refund(
        merchant=merchant,
        invoice_id=invoice_id,
        method=method,
        amount_sats=amount_sats,
        address=address,
        actor=actor,
        client_address=client_address,
    )
