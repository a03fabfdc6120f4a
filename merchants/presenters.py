"""Greenfield-shaped JSON for invoices and payments (used by the API and by webhook bodies)."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import get_script_prefix, reverse

from core.money import format_amount
from exchange.services import kzt_for_btc
from merchants.models import (
    AdditionalStatus,
    Invoice,
    InvoicePayment,
    InvoiceStatus,
    PaymentMethod,
)

MANUAL_MARKS: dict[str, list[str]] = {
    InvoiceStatus.NEW: [InvoiceStatus.SETTLED, InvoiceStatus.INVALID],
    InvoiceStatus.PROCESSING: [InvoiceStatus.SETTLED, InvoiceStatus.INVALID],
    InvoiceStatus.EXPIRED: [InvoiceStatus.SETTLED, InvoiceStatus.INVALID],
    InvoiceStatus.INVALID: [InvoiceStatus.SETTLED],
    InvoiceStatus.SETTLED: [InvoiceStatus.INVALID],
}


def unix(dt: Any) -> int:
    return int(dt.timestamp())


def btc(sats: int) -> str:
    return format_amount(sats, "BTC")


def public_url(path: str) -> str:
    """An absolute URL on the bank's public origin (``MERCHANT_PUBLIC_BASE_URL``)."""
    return f"{getattr(settings, 'MERCHANT_PUBLIC_BASE_URL', '').rstrip('/')}{path}"


_ID_SLOT = "InvoiceIdSlot"  # a valid <pid:>, replaced by the real id


@functools.cache
def _checkout_path(script_prefix: str) -> str:
    """``reverse`` once per script prefix: it cost a tenth of a cheap API read each time."""
    return reverse("merchants:checkout", args=[_ID_SLOT])


def checkout_link(invoice: Invoice) -> str:
    # The <pid:> converter writes an id as it is (merchants/ids.py), so this is reverse's path.
    path = _checkout_path(get_script_prefix()).replace(_ID_SLOT, invoice.id)
    return public_url(path)


def bip21(invoice: Invoice) -> str | None:
    """The BIP21 link; a top-up invoice's has no amount (the payer chooses)."""
    if not invoice.destination:
        return None
    label = quote(invoice.merchant.name[:60])
    message = quote("Invoice " + invoice.id)
    if invoice.is_topup:
        return f"bitcoin:{invoice.destination}?label={label}&message={message}"
    due = max(invoice.amount_sats - invoice.paid_sats, 0)
    link = f"bitcoin:{invoice.destination}?amount={btc(due or invoice.amount_sats)}"
    return f"{link}&label={label}&message={message}"


def offered_methods(invoice: Invoice) -> list[str]:
    return [m for m in PaymentMethod.values if invoice.offers(m)]


def rate_text(invoice: Invoice) -> str:
    """The invoice currency per 1 BTC (``1`` for BTC invoices)."""
    if invoice.currency == "BTC":
        return "1"
    return format_amount(invoice.rate_minor_per_btc, invoice.currency)


def payment_json(payment: InvoicePayment) -> dict[str, Any]:
    destination = payment.invoice.destination if payment.method == PaymentMethod.CHAIN else ""
    ident = f"{payment.txid}-{payment.vout}" if payment.txid else f"alatau-{payment.pk}"
    return {
        "id": ident,
        "receivedDate": unix(payment.received_at),
        "value": btc(payment.amount_sats),
        "fee": btc(0),
        "status": payment.status,
        "destination": destination
        or (
            payment.invoice.merchant.btc_account.number
            if payment.method == PaymentMethod.BANK
            else ""
        ),
    }


def invoice_json(invoice: Invoice, *, payment_methods: bool = False) -> dict[str, Any]:
    """Return an invoice as Greenfield ``InvoiceData``.

    A top-up invoice's ``amount`` is what was paid (zero until then), as in BTCPay.
    With ``payment_methods`` (``includePaymentMethods``) the payment methods are added;
    the invoice must then come with its payments prefetched.
    """
    methods = offered_methods(invoice)
    checkout = {
        "speedPolicy": invoice.speed_policy,
        "paymentMethods": methods,
        "defaultPaymentMethod": invoice.default_payment_method or methods[0],
        "expirationMinutes": invoice.expiration_minutes,
        "monitoringMinutes": invoice.monitoring_minutes,
        "paymentTolerance": Decimal(invoice.tolerance_bp) / 100,
        "redirectURL": invoice.redirect_url or None,
    }
    paid_minor = _paid_in_invoice_currency(invoice)
    amount_minor = paid_minor if invoice.is_topup else invoice.amount_minor
    out = {
        "id": invoice.id,
        "storeId": invoice.merchant.store_id,
        "amount": format_amount(amount_minor, invoice.currency),
        "paidAmount": format_amount(paid_minor, invoice.currency),
        "currency": invoice.currency,
        "type": invoice.invoice_type,
        "checkoutLink": checkout_link(invoice),
        "createdTime": unix(invoice.created_at),
        "expirationTime": unix(invoice.expires_at),
        "monitoringExpiration": unix(invoice.expires_at) + invoice.monitoring_minutes * 60,
        "status": invoice.status,
        "additionalStatus": invoice.additional_status,
        "availableStatusesForManualMarking": MANUAL_MARKS[invoice.status],
        "archived": invoice.archived,
        "metadata": invoice.metadata,
        "checkout": checkout,
        "receipt": {"enabled": True, "showQR": None, "showPayments": None},
    }
    if payment_methods:
        out["paymentMethods"] = payment_methods_json(invoice)
    return out


def _paid_in_invoice_currency(invoice: Invoice) -> int:
    if invoice.currency == "BTC":
        return invoice.paid_sats
    # The invoice currency at the invoice's own rate, rounded down to its minor unit.
    return kzt_for_btc(invoice.paid_sats, invoice.rate_minor_per_btc)


def payment_methods_json(invoice: Invoice) -> list[dict[str, Any]]:
    """Return the invoice's payment methods as Greenfield ``InvoicePaymentMethodDataModel``."""
    payments = list(invoice.payments.all())
    amount = invoice.paid_sats if invoice.is_topup else invoice.amount_sats
    due = amount - invoice.paid_sats
    out: list[dict[str, Any]] = []
    for method in PaymentMethod:
        if not invoice.offers(method):
            continue
        mine = [p for p in payments if p.method == method]
        if method == PaymentMethod.CHAIN:
            destination, link = invoice.destination, bip21(invoice)
        else:
            destination, link = checkout_link(invoice), None
        out.append(
            {
                "paymentMethodId": method.value,
                "currency": "BTC",
                "destination": destination,
                "paymentLink": link,
                "rate": rate_text(invoice),
                "paymentMethodPaid": btc(sum(p.amount_sats for p in mine if p.status != "Invalid")),
                "totalPaid": btc(invoice.paid_sats),
                "due": btc(due),
                "amount": btc(amount),
                "paymentMethodFee": btc(0),
                "payments": [payment_json(p) for p in mine],
                "activated": bool(destination),
                "additionalData": {},
            }
        )
    return out


def is_overpaid(invoice: Invoice) -> bool:
    return not invoice.is_topup and invoice.paid_sats > invoice.amount_sats


__all__ = ["AdditionalStatus", "invoice_json", "payment_json", "payment_methods_json"]
