"""Merchant web pages: the hosted checkout (``checkoutLink``) and API key management."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import acting_user, verified_customer_required
from accounts.services.twofactor import transfer_needs_2fa
from core.errors import ApplicationError
from core.http import client_address
from core.money import format_amount
from merchants.errors import InvoiceNotFound
from merchants.forms import ApiKeyForm, PayInvoiceForm
from merchants.models import Invoice, InvoiceStatus, Merchant, PaymentMethod, PaymentStatus
from merchants.presenters import bip21, rate_text
from merchants.selectors import invoice_get, merchants_for_user
from merchants.services.keys import SCOPES, api_key_create, api_key_revoke
from merchants.services.payments import invoice_pay_in_bank
from merchants.web.common import qr_svg
from merchants.web.limits import PAGE_RATE, PAY_RATE, POLL_RATE, client_rate_limited


def _invoice_or_404(invoice_id: str) -> Invoice:
    try:
        return invoice_get(merchant=None, invoice_id=invoice_id, payments=False)
    except InvoiceNotFound:
        raise Http404("No such invoice") from None


@client_rate_limited(PAGE_RATE)
def checkout(request: HttpRequest, invoice_id: str) -> HttpResponse:
    """Show an invoice to its payer: amount, countdown, QR + BIP21, pay from balance."""
    invoice = _invoice_or_404(invoice_id)
    link = bip21(invoice)
    form = None
    user = request.user
    if user.is_authenticated and not user.is_staff and invoice.status == InvoiceStatus.NEW:
        form = PayInvoiceForm(user=user, needs_code=_needs_code(invoice))
    seconds_left = max(0, int((invoice.expires_at - timezone.now()).total_seconds()))
    return render(
        request,
        "merchants/checkout.html",
        {
            "invoice": invoice,
            "bip21": link,
            "qr_svg": qr_svg(link) if link else "",
            "seen": _seen(invoice),
            "form": form,
            "seconds_left": seconds_left,
            "amount_text": format_amount(invoice.amount_minor, invoice.currency, with_code=True),
            "btc_text": format_amount(invoice.amount_sats, "BTC"),
            "due_text": format_amount(max(invoice.amount_sats - invoice.paid_sats, 0), "BTC"),
            "rate_text": rate_text(invoice),
            "login_url": f"{reverse('login')}?next={request.path}",
        },
    )


def _seen(invoice: Invoice) -> dict[str, Any] | None:
    """What the payer's wallet sent that is not settled yet (in the mempool or confirming)."""
    waiting = [
        p
        for p in invoice.payments.all()
        if p.method == PaymentMethod.CHAIN and p.status == PaymentStatus.PROCESSING
    ]
    if not waiting:
        return None
    return {
        "sats": sum(p.amount_sats for p in waiting),
        "confirmations": min(p.confirmations for p in waiting),
        "required": invoice.required_confirmations,
    }


@require_http_methods(["GET"])
@client_rate_limited(POLL_RATE, as_json=True)
def checkout_status(request: HttpRequest, invoice_id: str) -> JsonResponse:
    """The invoice's status for the checkout page to poll (public, like the page)."""
    invoice = _invoice_or_404(invoice_id)
    seen = _seen(invoice)
    response = JsonResponse(
        {
            "status": invoice.status,
            "additionalStatus": invoice.additional_status,
            "seenConfirmations": seen["confirmations"] if seen else None,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _needs_code(invoice: Invoice) -> bool:
    return transfer_needs_2fa(currency="BTC", amount_minor=invoice.amount_sats - invoice.paid_sats)


@require_POST
@client_rate_limited(PAY_RATE)
@verified_customer_required
def checkout_pay(request: HttpRequest, invoice_id: str) -> HttpResponse:
    """Pay an invoice from the signed-in customer's BTC account (once, whatever the clicks)."""
    invoice = _invoice_or_404(invoice_id)
    form = PayInvoiceForm(request.POST, user=request.user, needs_code=_needs_code(invoice))
    if form.is_valid():
        try:
            invoice_pay_in_bank(
                invoice_id=invoice.id,
                payer=request.user,
                account_id=form.cleaned_data["account"].pk,
                otp_code=form.cleaned_data.get("otp_code") or "",
                client_address=client_address(request),
            )
            messages.success(request, _("Paid. The merchant has been notified."))
        except ApplicationError as exc:
            # Each error once: the field's own words when there are some, else the summary.
            detail = list(dict.fromkeys(m for msgs in exc.fields.values() for m in msgs))
            messages.error(request, " ".join(detail) or exc.message)
    else:
        messages.error(request, _("Choose an account to pay from."))
    return redirect("merchants:checkout", invoice_id=invoice.id)


def _merchant_of(request: HttpRequest) -> Merchant:
    merchant = merchants_for_user(request.user).first()
    if merchant is None:
        raise Http404("You are not a merchant")
    return merchant


@login_required
@require_http_methods(["GET", "POST"])
def keys(request: HttpRequest) -> HttpResponse:
    """List the merchant's API keys and create one; a new token is shown exactly once."""
    merchant = _merchant_of(request)
    form = ApiKeyForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = api_key_create(
                merchant=merchant,
                label=form.cleaned_data["label"],
                scopes=form.cleaned_data["scopes"],
                actor=acting_user(request),
                otp_code=form.cleaned_data.get("otp_code") or "",
            )
            form = ApiKeyForm()
        except ApplicationError as exc:
            form.add_error(None, exc.message)
    response = render(
        request,
        "merchants/keys.html",
        {
            "merchant": merchant,
            "keys": merchant.api_keys.all(),
            "form": form,
            "new_token": new_token,
            "scope_names": SCOPES,
        },
    )
    response["Cache-Control"] = "no-store"  # the token must not linger in caches
    return response


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    """Ask first (GET shows what stops working), then revoke on POST."""
    merchant = _merchant_of(request)
    key = merchant.api_keys.filter(pk=key_id, revoked_at__isnull=True).first()
    if key is None:
        raise Http404("No such key")
    if request.method == "GET":
        return render(request, "merchants/key_revoke.html", {"merchant": merchant, "key": key})
    try:
        key = api_key_revoke(merchant=merchant, key_id=key_id, actor=acting_user(request))
        messages.success(request, _("Key %(label)s revoked.") % {"label": key.label})
    except ApplicationError:
        raise Http404("No such key") from None
    return redirect("merchants:keys")
