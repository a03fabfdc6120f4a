"""The payee's claim page of a pull payment (BTCPay's ``/pull-payments/{id}``).

Public, as the API's pull-payment paths are: whoever holds the link sees what is left,
claims an amount to a bitcoin address, and follows the states of the payouts. The
claim is the same service as ``POST /api/v1/pull-payments/{id}/payouts``, travel-rule
data included; the store approves each one through the bank's payout controls.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from compliance.services.screening import (
    WALLET_OWN,
    WALLET_PROVIDER,
    travel_rule_threshold_tiyn,
)
from core.errors import ApplicationError
from core.http import client_address
from core.money import parse_amount
from custody.selectors import withdrawal_fee_sats
from exchange.rates import kzt_per_btc_as_of
from merchants.auth import window_hit
from merchants.models import PayoutState, PullPayment
from merchants.presenters_pull import payouts_page
from merchants.services.payouts import TRAVEL_RULE_PATHS, payout_travel_rule_needed
from merchants.services.pull_payments import (
    payout_create,
    pull_payment_claimable,
    pull_payment_claimed_sats,
)

# The service's error paths (``travelRule.beneficiaryName``) back to the form's fields.
TRAVEL_FIELD_OF_PATH = {path: name for name, path in TRAVEL_RULE_PATHS.items()}
TRAVEL_MISSING_PATH = "travelRule"


class ClaimForm(forms.Form):
    destination = forms.CharField(
        label=gettext_lazy("Your bitcoin address"), max_length=100, strip=True
    )
    amount = forms.CharField(
        label=gettext_lazy("Amount (BTC)"),
        max_length=30,
        required=False,
        help_text=gettext_lazy("Leave empty to claim all that is left."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    # The travel rule's beneficiary data, in the names the claim's service takes. Only
    # parsed here: the service (``payout_travel_rule_checked``) checks it, as for the API.
    beneficiary_name = forms.CharField(
        label=gettext_lazy("Beneficiary's full name"), required=False, strip=True
    )
    wallet = forms.CharField(
        label=gettext_lazy("Who holds this address?"),
        required=False,
        widget=forms.RadioSelect(
            choices=[
                (WALLET_OWN, gettext_lazy("My own wallet")),
                (WALLET_PROVIDER, gettext_lazy("Another provider (exchange, bank)")),
            ]
        ),
    )
    provider_name = forms.CharField(
        label=gettext_lazy("Provider's name"), required=False, strip=True
    )

    TRAVEL_FIELDS = ("beneficiary_name", "wallet", "provider_name")

    def travel_rule(self) -> dict[str, str] | None:
        """The beneficiary data as typed; None when every field was left empty."""
        data = {name: self.cleaned_data.get(name) or "" for name in self.TRAVEL_FIELDS}
        return data if any(data.values()) else None


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


def _needs_travel(left_sats: int) -> bool:
    """Whether a claim of what is left needs the beneficiary data (the service says)."""
    if left_sats <= 0:
        return False
    try:
        return payout_travel_rule_needed(amount_sats=left_sats)
    except ApplicationError:  # no usable rate: ask, a claim with the data needs none
        return True


def _claim(request: HttpRequest, pull: PullPayment, form: ClaimForm) -> list[str] | None:
    """Claim with the form's data; None when claimed, else the travel rule's own errors.

    Field errors go next to their fields (the travel rule's by the service's paths);
    "required at or above the threshold" belongs to the beneficiary fieldset.
    """
    client = client_address(request) or "unknown"
    rate = str(getattr(settings, "MERCHANT_API_PUBLIC_RATE", "120/min"))
    hits, limit, _wait = window_hit(f"public:{client}", rate)
    if hits > limit:
        form.add_error(None, _("Too many attempts: try again in a minute."))
        return []
    try:
        payout_create(
            pull_payment_id=pull.id,
            merchant=None,
            destination=form.cleaned_data["destination"],
            amount=form.cleaned_data["amount"] or None,
            payout_method=None,
            travel_rule=form.travel_rule(),
        )
    except ApplicationError as exc:
        travel_errors: list[str] = []
        for path, problems in exc.fields.items():
            field = TRAVEL_FIELD_OF_PATH.get(path, path)
            if path == TRAVEL_MISSING_PATH:
                travel_errors.extend(problems)
            else:
                form.add_error(field if field in form.fields else None, problems)
        if not exc.fields:
            form.add_error(None, exc.message)
        return travel_errors
    return None


def _payout_rows(pull: PullPayment) -> list[dict[str, Any]]:
    labels = {
        PayoutState.AWAITING_APPROVAL: _("Awaiting the store's approval"),
        PayoutState.AWAITING_PAYMENT: _("Approved: the bank is sending it"),
        PayoutState.IN_PROGRESS: _("Sent: confirming"),
        PayoutState.COMPLETED: _("Paid"),
        PayoutState.CANCELLED: _("Cancelled"),
    }
    return [
        {
            **row,
            "label": labels.get(row["state"], row["state"]),
            "amount_sats": parse_amount(row["originalAmount"], "BTC", allow_zero=True),
        }
        for row in payouts_page(pull.payouts.all(), limit=50)
    ]


def _rate_shown() -> dict[str, Any] | None:
    """The rate the page's KZT values are at (the ``kzt`` tag's), and when it was set."""
    try:
        tiyn, set_at = kzt_per_btc_as_of()
    except ApplicationError:
        return None  # no usable rate: the page shows BTC alone, as the tag does
    return {"tiyn_per_btc": tiyn, "set_at": set_at}


@require_http_methods(["GET", "POST"])
def pull_payment_page(request: HttpRequest, pull_payment_id: str) -> HttpResponse:
    """Show what is left of a pull payment and its payouts; claim with the form."""
    pull = _pull_or_404(pull_payment_id)
    form = ClaimForm(request.POST or None)
    travel_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        outcome = _claim(request, pull, form)
        if outcome is None:
            messages.success(request, _("Claimed. The store will approve your payout."))
            return redirect("merchants:pull-payment", pull_payment_id=pull.id)
        travel_errors = outcome
    left = max(pull.amount_sats - pull_payment_claimed_sats(pull), 0)
    travel_invalid = bool(travel_errors) or any(form[n].errors for n in form.TRAVEL_FIELDS)
    return render(
        request,
        "merchants/pull_payment.html",
        {
            "pull": pull,
            "form": form,
            "closed": _closed_reason(pull),
            "left_sats": left,
            "payouts": _payout_rows(pull),
            "rate": _rate_shown(),
            "needs_travel": travel_invalid or _needs_travel(left),
            "travel_errors": travel_errors,
            "travel_threshold_tiyn": travel_rule_threshold_tiyn(),
            "fee_sats": withdrawal_fee_sats(),
        },
        status=422 if request.method == "POST" else 200,
    )
