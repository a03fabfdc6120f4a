"""Greenfield-shaped JSON for invoices and payments (used by the API and by webhook bodies)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse

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
MONITORING_S = 24 * 3600


def unix(dt: Any) -> int:
    return int(dt.timestamp())


def btc(sats: int) -> str:
    return format_amount(sats, "BTC")


def checkout_link(invoice: Invoice) -> str:
    base = getattr(settings, "MERCHANT_PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}{reverse('merchants:checkout', args=[invoice.id])}"


def bip21(invoice: Invoice) -> str | None:
    if not invoice.destination:
        return None
    due = max(invoice.amount_sats - invoice.paid_sats, 0)
    label = quote(invoice.merchant.name[:60])
    link = f"bitcoin:{invoice.destination}?amount={btc(due or invoice.amount_sats)}"
    return f"{link}&label={label}&message={quote('Invoice ' + invoice.id)}"


def rate_text(invoice: Invoice) -> str:
    """The invoice currency per 1 BTC (``1`` for BTC invoices)."""
    if invoice.currency == "BTC":
        return "1"
    return format_amount(invoice.rate_tiyn_per_btc, "KZT")


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


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """Return an invoice as Greenfield ``InvoiceData``."""
    checkout = {
        "speedPolicy": invoice.speed_policy,
        "paymentMethods": [m.value for m in PaymentMethod],
        "defaultPaymentMethod": PaymentMethod.CHAIN.value,
        "expirationMinutes": invoice.expiration_minutes,
        "monitoringMinutes": MONITORING_S // 60,
        "paymentTolerance": Decimal(invoice.tolerance_bp) / 100,
        "redirectURL": invoice.redirect_url or None,
    }
    paid_minor = _paid_in_invoice_currency(invoice)
    return {
        "id": invoice.id,
        "storeId": invoice.merchant.store_id,
        "amount": format_amount(invoice.amount_minor, invoice.currency),
        "paidAmount": format_amount(paid_minor, invoice.currency),
        "currency": invoice.currency,
        "type": "Standard",
        "checkoutLink": checkout_link(invoice),
        "createdTime": unix(invoice.created_at),
        "expirationTime": unix(invoice.expires_at),
        "monitoringExpiration": unix(invoice.expires_at) + MONITORING_S,
        "status": invoice.status,
        "additionalStatus": invoice.additional_status,
        "availableStatusesForManualMarking": MANUAL_MARKS[invoice.status],
        "archived": invoice.archived,
        "metadata": invoice.metadata,
        "checkout": checkout,
        "receipt": {"enabled": True, "showQR": None, "showPayments": None},
    }


def _paid_in_invoice_currency(invoice: Invoice) -> int:
    if invoice.currency == "BTC":
        return invoice.paid_sats
    # KZT at the invoice's own quote, rounded down to a tiyn.
    return kzt_for_btc(invoice.paid_sats, invoice.rate_tiyn_per_btc)


def payment_methods_json(invoice: Invoice) -> list[dict[str, Any]]:
    """Return the invoice's payment methods as Greenfield ``InvoicePaymentMethodDataModel``."""
    payments = list(invoice.payments.all())
    due = invoice.amount_sats - invoice.paid_sats
    out: list[dict[str, Any]] = []
    for method in PaymentMethod:
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
                "amount": btc(invoice.amount_sats),
                "paymentMethodFee": btc(0),
                "payments": [payment_json(p) for p in mine],
                "activated": bool(destination),
                "additionalData": {},
            }
        )
    return out


def is_overpaid(invoice: Invoice) -> bool:
    return invoice.paid_sats > invoice.amount_sats


__all__ = ["AdditionalStatus", "invoice_json", "payment_json", "payment_methods_json"]
