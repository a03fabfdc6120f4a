"""Payouts: the allow-list of addresses, payouts with their states, conversions to KZT."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import acting_user
from core.errors import ApplicationError
from core.http import client_address
from core.money import format_amount
from merchants.models import Merchant, PayoutAddress
from merchants.selectors_sales import payout_addresses, payout_rows, store_balances
from merchants.services.owner_actions import conversion_with_second_factor
from merchants.services.payout_addresses import (
    payout_address_add,
    payout_address_remove,
    payout_to_listed_address,
)
from merchants.web.common import add_errors, merchant_required
from merchants.web.forms import ConversionForm, PayoutAddressForm, PayoutForm


def _usable(merchant: Merchant) -> object:
    return PayoutAddress.objects.filter(
        merchant=merchant, removed_at__isnull=True, usable_from__lte=timezone.now()
    )


@require_http_methods(["GET", "POST"])
@merchant_required
def payouts(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    action = request.POST.get("action") if request.method == "POST" else None
    post = request.POST if request.method == "POST" else None
    address_form = PayoutAddressForm(post if action == "address" else None, prefix="a")
    payout_form = PayoutForm(
        post if action == "payout" else None, prefix="p", addresses=_usable(merchant)
    )
    convert_form = ConversionForm(post if action == "convert" else None, prefix="c")
    ip = client_address(request)
    try:
        if action == "address" and address_form.is_valid():
            d = address_form.cleaned_data
            saved = payout_address_add(
                merchant=merchant, label=d["label"], address=d["address"], otp_code=d["otp_code"],
                actor=acting_user(request), client_address=ip,
            )  # fmt: skip
            when = timezone.localtime(saved.usable_from).strftime("%d.%m.%Y %H:%M")
            messages.success(request, _("Address added; usable from %(when)s.") % {"when": when})
            return redirect("merchant:payouts")
        if action == "payout" and payout_form.is_valid():
            d = payout_form.cleaned_data
            payout = payout_to_listed_address(
                merchant=merchant, address_id=d["address"].pk, amount_sats=d["amount"],
                otp_code=d["otp_code"], actor=acting_user(request), client_address=ip,
            )  # fmt: skip
            amount = format_amount(payout.amount_sats, "BTC", with_code=True)
            messages.success(request, _("Payout of %(amount)s requested.") % {"amount": amount})
            return redirect("merchant:payouts")
        if action == "convert" and convert_form.is_valid():
            d = convert_form.cleaned_data
            payout = conversion_with_second_factor(
                merchant=merchant, amount_sats=d["amount"], otp_code=d["otp_code"],
                actor=acting_user(request), client_address=ip,
            )  # fmt: skip
            kzt = format_amount(payout.kzt_tiyn or 0, "KZT", with_code=True)
            messages.success(request, _("Converted to %(kzt)s.") % {"kzt": kzt})
            return redirect("merchant:payouts")
    except ApplicationError as exc:
        form = {"address": address_form, "payout": payout_form, "convert": convert_form}[
            action or "address"
        ]
        add_errors(form, exc)
    return render(
        request,
        "merchant/payouts.html",
        {
            "merchant": merchant,
            "balances": store_balances(merchant=merchant),
            "addresses": payout_addresses(merchant=merchant),
            "rows": payout_rows(merchant=merchant),
            "address_form": address_form,
            "payout_form": payout_form,
            "convert_form": convert_form,
            "now": timezone.now(),
        },
    )


@require_POST
@merchant_required
def address_remove(request: HttpRequest, merchant: Merchant, address_id: int) -> HttpResponse:
    try:
        payout_address_remove(
            merchant=merchant, address_id=address_id, actor=acting_user(request),
            client_address=client_address(request),
        )  # fmt: skip
    except ApplicationError:
        raise Http404("No such address") from None
    messages.success(request, _("Address removed from the allow-list."))
    return redirect("merchant:payouts")
