"""The till: keypad and items, then one screen with the QR, the live status and a receipt."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import ApplicationError, ValidationFailed
from core.money import format_amount, parse_amount
from merchants.ids import random_id
from merchants.models import Invoice, InvoiceStatus, Merchant, PaymentMethod, PaymentStatus
from merchants.presenters import bip21
from merchants.selectors_sales import invoice_detail
from merchants.services.invoices import invoice_create
from merchants.web.common import merchant_required, qr_svg
from merchants.web.forms import TillForm

ITEMS_MAX = 50
ITEM_NAME_MAX = 100


def parse_items(raw: str, currency: str) -> list[dict[str, Any]]:
    """Return the till's line items (name, price in minor units); refuse a bad list."""
    if not raw.strip():
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        raise ValidationFailed(
            "Bad items", fields={"items": [_("The item list is broken.")]}
        ) from None
    if not isinstance(items, list) or len(items) > ITEMS_MAX:
        raise ValidationFailed("Bad items", fields={"items": [_("At most 50 items.")]})
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ValidationFailed("Bad items", fields={"items": [_("The item list is broken.")]})
        name = " ".join(str(item.get("name") or _("Item")).split())[:ITEM_NAME_MAX]
        price = parse_amount(str(item.get("price", "")), currency, field="items")
        quantity = item.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 999:
            raise ValidationFailed("Bad quantity", fields={"items": [_("Quantity 1 to 999.")]})
        out.append({"name": name, "price_minor": price, "quantity": quantity})
    return out


def _charge(merchant: Merchant, data: dict[str, Any], actor: Any) -> Invoice:
    currency = data["currency"]
    items = parse_items(data.get("items") or "", currency)
    if items:
        total = sum(i["price_minor"] * i["quantity"] for i in items)
    else:
        total = parse_amount(data["amount"].strip().replace(",", "."), currency)
    if total <= 0:
        raise ValidationFailed("Amount required", fields={"amount": [_("Enter an amount.")]})
    cart = [
        {"name": i["name"], "quantity": i["quantity"],
         "price": format_amount(i["price_minor"], currency)}
        for i in items
    ]  # fmt: skip
    memo = " ".join((data.get("memo") or "").split())
    desc = (
        ", ".join(f"{i['quantity']} x {i['name']}" for i in items)[:200] or memo or _("Till sale")
    )
    return invoice_create(
        merchant=merchant,
        amount=format_amount(total, currency),
        currency=currency,
        metadata={
            "orderId": f"POS-{timezone.localtime():%Y%m%d}-{random_id(6)}",
            "itemDesc": desc,
            "posData": {"cart": cart, "memo": memo},
        },
        checkout={"speedPolicy": "MediumSpeed"},
        actor=actor,
    )


@require_http_methods(["GET", "POST"])
@merchant_required
def till(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form = TillForm(request.POST or None, initial={"currency": "KZT"})
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            invoice = _charge(merchant, form.cleaned_data, request.user)
            return redirect("merchant:pos_charge", invoice_id=invoice.id)
        except ApplicationError as exc:
            detail = [m for msgs in exc.fields.values() for m in msgs]
            error = " ".join(detail) or exc.message
    elif request.method == "POST":
        error = _("Enter an amount.")
    return render(
        request, "merchant/pos.html", {"merchant": merchant, "form": form, "error": error},
        status=400 if error else 200,
    )  # fmt: skip


def _invoice(merchant: Merchant, invoice_id: str) -> Invoice:
    invoice = (
        Invoice.objects.filter(merchant=merchant, pk=invoice_id).select_related("merchant").first()
    )
    if invoice is None:
        raise Http404("No such invoice")
    return invoice


def till_status(invoice: Invoice) -> dict[str, Any]:
    """Return what the till shows: payment seen, confirmed, settled (and to KZT)."""
    payments = [p for p in invoice.payments.all() if p.status != PaymentStatus.INVALID]
    chain = [p for p in payments if p.method == PaymentMethod.CHAIN]
    in_bank = any(p.method == PaymentMethod.BANK for p in payments)
    settled = invoice.status == InvoiceStatus.SETTLED
    confirmations = min((p.confirmations for p in chain), default=0)
    confirmed = settled or in_bank or (bool(chain) and confirmations >= 1)
    kzt = getattr(invoice, "kzt_settlement", None) if settled else None
    stage = "waiting"
    if invoice.status in (InvoiceStatus.EXPIRED, InvoiceStatus.INVALID) and not settled:
        stage = invoice.status.lower()
    elif settled:
        stage = "settled"
    elif confirmed:
        stage = "confirmed"
    elif payments:
        stage = "seen"
    return {
        "stage": stage,
        "status": invoice.status,
        "additionalStatus": invoice.additional_status,
        "seen": bool(payments),
        "confirmed": confirmed,
        "settled": settled,
        "method": "in-bank" if in_bank else ("on-chain" if chain else ""),
        "confirmations": confirmations,
        "required": invoice.required_confirmations,
        "paid": format_amount(invoice.paid_sats, "BTC"),
        "due": format_amount(max(invoice.amount_sats - invoice.paid_sats, 0), "BTC"),
        "kzt": format_amount(kzt.kzt_tiyn, "KZT") if kzt else None,
    }


@require_GET
@merchant_required
def charge(request: HttpRequest, merchant: Merchant, invoice_id: str) -> HttpResponse:
    invoice = _invoice(merchant, invoice_id)
    link = bip21(invoice)
    alatau = request.build_absolute_uri(reverse("merchants:checkout", args=[invoice.id]))
    return render(
        request,
        "merchant/pos_charge.html",
        {
            "merchant": merchant,
            "invoice": invoice,
            "bip21": link,
            "qr_chain": qr_svg(link) if link else "",
            "alatau_link": alatau,
            "qr_alatau": qr_svg(alatau),
            "state": till_status(invoice),
            "seconds_left": max(0, int((invoice.expires_at - timezone.now()).total_seconds())),
        },
    )


@require_GET
@merchant_required
def charge_status(request: HttpRequest, merchant: Merchant, invoice_id: str) -> JsonResponse:
    response = JsonResponse(till_status(_invoice(merchant, invoice_id)))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@merchant_required
def receipt(request: HttpRequest, merchant: Merchant, invoice_id: str) -> HttpResponse:
    detail = invoice_detail(merchant=merchant, invoice_id=invoice_id)
    if detail is None:
        raise Http404("No such invoice")
    invoice = detail["invoice"]
    pos = invoice.metadata.get("posData") if isinstance(invoice.metadata, dict) else None
    cart = []
    for item in pos.get("cart", []) if isinstance(pos, dict) else []:
        try:
            price = parse_amount(str(item.get("price", "")), invoice.currency)
        except ApplicationError:
            continue  # metadata is the merchant's own; an odd line is left off the receipt
        cart.append(
            {
                "name": item.get("name", ""),
                "quantity": item.get("quantity", 1),
                "price_minor": price,
            }
        )
    return render(
        request,
        "merchant/receipt.html",
        {
            "merchant": merchant,
            "cart": cart,
            "state": till_status(invoice),
            "public_link": request.build_absolute_uri(
                reverse("merchants:checkout", args=[invoice.id])
            ),
            **detail,
        },
    )
