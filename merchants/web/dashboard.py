"""The store's dashboard: balances with KZT values, takings, recent invoices, payouts."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import acting_user
from core.db_reads import lagging_reads
from merchants.models import Merchant
from merchants.selectors_sales import (
    pending_payouts,
    recent_invoices,
    store_balances,
    store_takings_periods,
)
from merchants.services.settlement import merchant_set_settle_to_kzt
from merchants.web.common import merchant_required
from merchants.web.forms import SettlementForm


@require_GET
@merchant_required
def dashboard(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    # Figures that may lag (the replica when usable; the primary after the merchant's own
    # write). The selectors return lists, so nothing is read after the block.
    with lagging_reads(user=request.user):
        takings = store_takings_periods(merchant=merchant)
        context = {
            "merchant": merchant,
            "balances": store_balances(merchant=merchant),
            "today": takings["today"],
            "month": takings["month"],
            "invoices": recent_invoices(merchant=merchant),
            "payouts": pending_payouts(merchant=merchant),
            "settlement_form": SettlementForm(initial={"settle_to_kzt": merchant.settle_to_kzt}),
        }
    return render(request, "merchant/dashboard.html", context)


@require_POST
@merchant_required
def settlement_setting(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form = SettlementForm(request.POST)
    if form.is_valid():
        enabled = form.cleaned_data["settle_to_kzt"]
        merchant_set_settle_to_kzt(merchant=merchant, enabled=enabled, actor=acting_user(request))
        if enabled:
            messages.success(request, _("Every settled invoice will now be exchanged to KZT."))
        else:
            messages.success(request, _("Invoices now stay in bitcoin."))
    return redirect("merchant:dashboard")
