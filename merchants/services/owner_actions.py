"""What a store's owner does from the web door with a second factor: refunds, conversions.

The merchant web door moves money only after the owner's 2FA code, as the
customer door does for withdrawals; the API door has its own key scopes.
"""

from __future__ import annotations

from typing import Any

from accounts.services.twofactor import twofactor_check, twofactor_enabled
from bank.errors import PermissionDenied, ValidationFailed
from bank.money import check_minor
from merchants.models import Merchant, Payout, Refund
from merchants.services.payouts import merchant_convert_to_kzt
from merchants.services.refunds import invoice_refund


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
