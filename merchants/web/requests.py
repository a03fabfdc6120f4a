"""Payment requests: the store makes public links; anyone opens one and pays it."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import acting_user
from core.errors import ApplicationError
from merchants.models import Merchant, PaymentRequest
from merchants.services.payment_requests import (
    payment_request_archive,
    payment_request_create,
    payment_request_invoices,
    payment_request_pay,
    payment_request_state,
)
from merchants.web.common import add_errors, merchant_required, qr_svg
from merchants.web.forms import PaymentRequestForm
from merchants.web.limits import PAGE_RATE, PAY_RATE, client_rate_limited

LIST_MAX = 100


@require_http_methods(["GET", "POST"])
@merchant_required
def request_list(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    form = PaymentRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            pr = payment_request_create(
                merchant=merchant,
                title=data["title"],
                amount=data["amount"].strip().replace(",", "."),
                currency=data["currency"],
                description=data.get("description") or "",
                expires_at=data.get("expires_at"),
                actor=acting_user(request),
            )
            messages.success(request, _("Payment link created: share it with your customer."))
            return redirect("merchant:request", request_id=pr.id)
        except ApplicationError as exc:
            add_errors(form, exc)
    requests = PaymentRequest.objects.filter(merchant=merchant).order_by("-created_at")[:LIST_MAX]
    rows = [(pr, payment_request_state(pr)) for pr in requests]
    return render(
        request, "merchant/requests.html", {"merchant": merchant, "form": form, "rows": rows}
    )


def _public_url(request: HttpRequest, pr: PaymentRequest) -> str:
    return request.build_absolute_uri(reverse("merchant_public:request", args=[pr.id]))


@require_http_methods(["GET"])
@merchant_required
def request_view(request: HttpRequest, merchant: Merchant, request_id: str) -> HttpResponse:
    pr = PaymentRequest.objects.filter(merchant=merchant, pk=request_id).first()
    if pr is None:
        raise Http404("No such payment request")
    url = _public_url(request, pr)
    return render(
        request,
        "merchant/request.html",
        {
            "merchant": merchant,
            "pr": pr,
            "state": payment_request_state(pr),
            "invoices": payment_request_invoices(pr),
            "public_url": url,
            "qr": qr_svg(url),
        },
    )


@require_POST
@merchant_required
def request_archive(request: HttpRequest, merchant: Merchant, request_id: str) -> HttpResponse:
    try:
        payment_request_archive(
            merchant=merchant, request_id=request_id, actor=acting_user(request)
        )
    except ApplicationError:
        raise Http404("No such payment request") from None
    messages.success(request, _("Payment link archived: it no longer takes payments."))
    return redirect("merchant:requests")


@require_http_methods(["GET"])
@client_rate_limited(PAGE_RATE)
def public_request(request: HttpRequest, request_id: str) -> HttpResponse:
    """The page a payer opens: what is asked, by whom, until when; a button to pay."""
    pr = PaymentRequest.objects.filter(pk=request_id).select_related("merchant").first()
    if pr is None:
        raise Http404("No such payment request")
    return render(
        request,
        "merchant/public_request.html",
        {
            "pr": pr,
            "state": payment_request_state(pr),
            "invoices": payment_request_invoices(pr)[:10],
        },
    )


@require_POST
@client_rate_limited(PAY_RATE)
def public_request_pay(request: HttpRequest, request_id: str) -> HttpResponse:
    """Make (or reuse) the invoice for what is due and open its checkout page."""
    try:
        invoice = payment_request_pay(
            request_id=request_id,
            actor=acting_user(request),
        )
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("No such payment request") from None
        messages.error(request, exc.message)
        return redirect("merchant_public:request", request_id=request_id)
    return redirect("merchants:checkout", invoice_id=invoice.id)
