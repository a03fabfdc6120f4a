"""Transfers to another customer: details, a confirmation step, the receipt."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.access import current_user, verified_customer_required
from accounts.models import Account
from accounts.services.twofactor import twofactor_enabled
from banking.forms import TransferConfirmForm, TransferForm
from banking.services.kyc import masked_name
from banking.services.transfers import (
    customer_transfer_create,
    recipient_resolve,
    transfer_for_user,
    transfer_needs_2fa,
)
from banking.views.auth import rate_limited
from banking.views.common import address_of, form_error
from core.errors import ApplicationError, NotFound


@rate_limited("RATELIMIT_TRANSFER")
@verified_customer_required
def transfer_new(request: HttpRequest) -> HttpResponse:
    """Step 1 (details) and step 2 (review and confirm) of a transfer."""
    user = current_user(request)
    if request.method == "POST" and "confirm" in request.POST:
        return _confirm(request)
    form = TransferForm(request.POST or None, user=user, initial=request.GET.dict() or None)
    if request.method == "POST" and form.is_valid() and form.cleaned_data.get("amount_minor"):
        data = form.cleaned_data
        account = data["from_account"]
        try:
            recipient = recipient_resolve(
                sender=user, query=data["recipient"], currency=account.currency
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            confirm = TransferConfirmForm(
                user=user,
                initial={
                    "from_account": account.pk,
                    "recipient": data["recipient"],
                    "amount": data["amount"],
                    "memo": data["memo"],
                    "idempotency_key": uuid.uuid4().hex,
                },
            )
            return _review(request, confirm, account, recipient, data["amount_minor"])
    return render(request, "accounts/transfers/new.html", {"form": form})


def _review(
    request: HttpRequest,
    form: TransferConfirmForm,
    account: Account,
    recipient: Account,
    amount_minor: int,
) -> HttpResponse:
    needs_2fa = transfer_needs_2fa(currency=account.currency, amount_minor=amount_minor)
    return render(
        request,
        "accounts/transfers/confirm.html",
        {
            "form": form,
            "account": account,
            "recipient_name": masked_name(recipient.owner),
            "recipient_number": recipient.number_formatted,
            "amount_minor": amount_minor,
            "needs_2fa": needs_2fa,
            "twofactor_on": twofactor_enabled(current_user(request)),
        },
    )


def _confirm(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = TransferConfirmForm(request.POST, user=user)
    if form.is_valid() and form.cleaned_data.get("amount_minor"):
        data = form.cleaned_data
        try:
            transfer = customer_transfer_create(
                sender=user,
                debit_account_id=data["from_account"].pk,
                recipient=data["recipient"],
                amount_minor=data["amount_minor"],
                idempotency_key=data["idempotency_key"],
                memo=data["memo"],
                otp_code=data.get("otp_code") or "",
                client_address=address_of(request),
            )
        except ApplicationError as exc:
            data = dict(data)  # keep the values: form_error drops fields in error
            form_error(form, exc)
            if set(exc.fields) & {"recipient", "amount", "from_account", "idempotency_key"}:
                step1 = TransferForm(request.POST, user=user)
                step1.is_valid()
                form_error(step1, exc)
                return render(request, "accounts/transfers/new.html", {"form": step1}, status=422)
        else:
            messages.success(request, _("Transfer sent."))
            return redirect("transfer_detail", transfer_id=transfer.pk)
        try:
            recipient = recipient_resolve(
                sender=user, query=data["recipient"], currency=data["from_account"].currency
            )
        except ApplicationError:
            return redirect("transfer_new")
        response = _review(request, form, data["from_account"], recipient, data["amount_minor"])
        response.status_code = 422
        return response
    return render(request, "accounts/transfers/new.html", {"form": form}, status=422)


@verified_customer_required
def transfer_detail(request: HttpRequest, transfer_id: int) -> HttpResponse:
    try:
        transfer = transfer_for_user(user=current_user(request), transfer_id=transfer_id)
    except NotFound:
        raise Http404("No such transfer") from None
    outgoing = transfer.debit_account.owner_id == current_user(request).pk
    other = transfer.credit_account if outgoing else transfer.debit_account
    counterparty = masked_name(other.owner) if other.owner_id else "Alatau Bank"
    return render(
        request,
        "accounts/transfers/detail.html",
        {"transfer": transfer, "outgoing": outgoing, "counterparty": counterparty, "other": other},
    )
