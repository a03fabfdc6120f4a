"""The payee's claim page of a pull payment (BTCPay's ``/pull-payments/{id}``).

Public, as the API's pull-payment paths are: whoever holds the link sees what is left,
claims an amount to a bitcoin address, and follows the states of the payouts. The
claim is the same service as ``POST /api/v1/pull-payments/{id}/payouts``; the store
approves each one through the bank's payout controls.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError
from core.http import client_address
from core.money import format_amount
from merchants.auth import window_hit
from merchants.models import PayoutState, PullPayment
from merchants.presenters_pull import payouts_page
from merchants.services.pull_payments import (
    payout_create,
    pull_payment_claimable,
    pull_payment_claimed_sats,
)


class ClaimForm(forms.Form):
    destination = forms.CharField(
        label=gettext_lazy("Your bitcoin address"), max_length=100, strip=True
    )
    amount = forms.CharField(
        label=gettext_lazy("Amount (BTC)"),
        max_length=30,
        required=False,
        help_text=gettext_lazy("Leave empty to claim all that is left."),
    )


def _pull_or_404(pull_payment_id: str) -> PullPayment:
    pull = PullPayment.objects.select_related("merchant").filter(pk=pull_payment_id).first()
    if pull is None:
        raise Http404("No such pull payment")
    return pull


def _closed_reason(pull: PullPayment) -> str:
    try:
        pull_payment_claimable(pull)
    except ApplicationError as exc:
        return exc.message
    return ""


@require_http_methods(["GET", "POST"])
def pull_payment_page(request: HttpRequest, pull_payment_id: str) -> HttpResponse:
    """Show what is left of a pull payment and its payouts; claim with the form."""
    pull = _pull_or_404(pull_payment_id)
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        client = client_address(request) or "unknown"
        rate = str(getattr(settings, "MERCHANT_API_PUBLIC_RATE", "120/min"))
        hits, limit, _wait = window_hit(f"public:{client}", rate)
        if hits > limit:
            form.add_error(None, _("Too many attempts: try again in a minute."))
        else:
            try:
                payout_create(
                    pull_payment_id=pull.id,
                    merchant=None,
                    destination=form.cleaned_data["destination"],
                    amount=form.cleaned_data["amount"] or None,
                    payout_method=None,
                )
            except ApplicationError as exc:
                for field, problems in exc.fields.items():
                    form.add_error(field if field in form.fields else None, problems)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                messages.success(request, _("Claimed. The store will approve your payout."))
                return redirect("merchants:pull-payment", pull_payment_id=pull.id)
    left = max(pull.amount_sats - pull_payment_claimed_sats(pull), 0)
    labels = {
        PayoutState.AWAITING_APPROVAL: _("Awaiting the store's approval"),
        PayoutState.AWAITING_PAYMENT: _("Approved: the bank is sending it"),
        PayoutState.IN_PROGRESS: _("Sent: confirming"),
        PayoutState.COMPLETED: _("Paid"),
        PayoutState.CANCELLED: _("Cancelled"),
    }
    payouts = [
        {**row, "label": labels.get(row["state"], row["state"])}
        for row in payouts_page(pull.payouts.all(), limit=50)
    ]
    return render(
        request,
        "merchants/pull_payment.html",
        {
            "pull": pull,
            "form": form,
            "closed": _closed_reason(pull),
            "amount_text": format_amount(pull.amount_sats, "BTC"),
            "left_text": format_amount(left, "BTC"),
            "left_sats": left,
            "payouts": payouts,
        },
        status=422 if request.method == "POST" else 200,
    )
