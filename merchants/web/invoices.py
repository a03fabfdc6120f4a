"""The store's invoices: search, detail (payments, deliveries, refunds), CSV, refund."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import acting_user
from core.errors import ApplicationError
from core.http import client_address
from core.money import format_amount
from merchants.models import Merchant
from merchants.selectors_csv import invoice_csv_rows
from merchants.selectors_sales import LIST_PAGE, InvoiceFilter, invoice_detail, invoice_search
from merchants.services.owner_actions import refund_with_second_factor
from merchants.web.common import add_errors, merchant_required
from merchants.web.forms import InvoiceFilterForm, RefundForm


def _filters(request: HttpRequest) -> tuple[InvoiceFilterForm, InvoiceFilter]:
    form = InvoiceFilterForm(request.GET or None)
    if not form.is_valid():
        return form, InvoiceFilter()
    data = form.cleaned_data
    return form, InvoiceFilter(
        status=data.get("status") or "",
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        order_id=(data.get("order_id") or "").strip(),
        text=(data.get("q") or "").strip(),
    )


@require_GET
@merchant_required
def invoice_list(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form, filters = _filters(request)
    page = Paginator(invoice_search(merchant=merchant, filters=filters), LIST_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "merchant/invoices.html",
        {"merchant": merchant, "form": form, "page": page, "query": query.urlencode()},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@merchant_required
def invoice_export(request: HttpRequest, merchant: Merchant) -> StreamingHttpResponse:
    """Stream the filtered invoices as CSV: one row per payment, KZT at each payment's rate."""
    _, filters = _filters(request)
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in invoice_csv_rows(merchant=merchant, filters=filters))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    name = f"invoices-{merchant.store_id[:8]}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_http_methods(["GET", "POST"])
@merchant_required
def invoice_view(request: HttpRequest, merchant: Merchant, invoice_id: str) -> HttpResponse:
    detail = invoice_detail(merchant=merchant, invoice_id=invoice_id)
    if detail is None:
        raise Http404("No such invoice")
    form = RefundForm(
        request.POST or None, initial={"method": "InBank" if detail["paid_in_bank"] else "OnChain"}
    )
    if request.method == "POST" and form.is_valid():
        if _refund(request, merchant, invoice_id, form):
            return redirect("merchant:invoice", invoice_id=invoice_id)
        detail = invoice_detail(merchant=merchant, invoice_id=invoice_id) or detail
    context: dict[str, Any] = {"merchant": merchant, "refund_form": form, **detail}
    return render(request, "merchant/invoice.html", context)


def _refund(request: HttpRequest, merchant: Merchant, invoice_id: str, form: RefundForm) -> bool:
    data = form.cleaned_data
    try:
        refund = refund_with_second_factor(
            merchant=merchant,
            invoice_id=invoice_id,
            method=data["method"],
            amount_sats=data.get("amount"),
            address=data.get("address") or "",
            otp_code=data["otp_code"],
            actor=acting_user(request),
            client_address=client_address(request),
        )
    except ApplicationError as exc:
        add_errors(form, exc)
        return False
    amount = format_amount(refund.amount_sats, "BTC", with_code=True)
    messages.success(request, _("Refund of %(amount)s made.") % {"amount": amount})
    return True
