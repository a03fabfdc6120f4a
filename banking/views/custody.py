"""Deposit (address, QR code, incoming deposits) and withdraw (confirm, track, cancel)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import current_user, verified_customer_required
from accounts.models import Account, User
from banking.forms import WithdrawConfirmForm, WithdrawForm
from banking.services.withdrawals import (
    btc_account,
    customer_withdrawal_precheck,
    customer_withdrawal_request,
    withdrawal_fee_sats,
    withdrawal_needs_travel_rule,
)
from banking.views.common import address_of, form_error, twofactor_required
from banking.views.security import qr_svg
from compliance.services import user_tier
from core.errors import ApplicationError, NotFound
from custody.models import WithdrawalAddress
from custody.selectors import (
    OPEN_STATUSES,
    deposit_address_bip21,
    deposit_address_current,
    deposits_for_account,
    withdrawal_addresses_active,
    withdrawal_get,
    withdrawals_for_account,
)
from custody.services import deposit_address_new, withdrawal_cancel
from custody.services.withdrawals import CANCELLABLE

DEPOSITS_SHOWN = 50


@verified_customer_required
def deposit(request: HttpRequest) -> HttpResponse:
    account = btc_account(user=current_user(request))
    if request.method == "POST":
        try:
            deposit_address_new(account=account, actor=current_user(request))
        except ApplicationError as exc:
            messages.error(
                request,
                _("We could not make a deposit address right now: %(reason)s")
                % {"reason": exc.message},
            )
        else:
            messages.success(request, _("Your new deposit address is ready."))
        return redirect("deposit")
    current = deposit_address_current(account=account)
    uri = deposit_address_bip21(deposit_address=current) if current else ""
    deposits = list(
        deposits_for_account(account=account, limit=DEPOSITS_SHOWN).select_related(
            "deposit_address"
        )
    )
    rows = [
        {
            "deposit": d,
            "needed": d.deposit_address.confirmations_needed() if d.deposit_address else None,
        }
        for d in deposits
    ]
    return render(
        request,
        "accounts/custody/deposit.html",
        {
            "account": account,
            "address": current,
            "bip21": uri,
            "qr": qr_svg(uri, scale=5) if uri else "",
            "rows": rows,
        },
    )


@verified_customer_required
@twofactor_required
def withdraw(request: HttpRequest) -> HttpResponse:
    """Step 1 (address and amount), step 2 (fee, total, code), then the withdrawal page."""
    user = current_user(request)
    account = btc_account(user=user)
    if request.method == "POST" and "confirm" in request.POST:
        return _withdraw_confirm(request, account)
    form = WithdrawForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid() and form.cleaned_data.get("amount_minor"):
        address, amount = form.cleaned_data["address"], form.cleaned_data["amount_minor"]
        try:
            # Everything the request would refuse is refused here, before a code is asked.
            customer_withdrawal_precheck(user=user, address_id=address.pk, amount_sats=amount)
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            confirm = WithdrawConfirmForm(
                user=user,
                initial={
                    "address": address.pk,
                    "amount": form.cleaned_data["amount"],
                    "idempotency_key": uuid.uuid4().hex,
                },
            )
            return _review(request, confirm, account, address, amount)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "accounts/custody/withdraw.html",
        _withdraw_context(user, account, form),
        status=status,
    )


def _withdraw_context(user: User, account: Account, form: WithdrawForm) -> dict[str, object]:
    """Return the withdraw page's context: the form, the balance and each address's state."""
    now = timezone.now()
    saved = list(withdrawal_addresses_active(user=user))
    rows = [
        {"label": a.label, "usable_from": a.usable_from, "ready": a.usable_from <= now}
        for a in saved
    ]
    return {
        "form": form,
        "account": account,
        "fee_sats": withdrawal_fee_sats(),
        "has_addresses": bool(saved),
        "has_ready_address": any(row["ready"] for row in rows),
        "address_rows": rows,
        "tier": user_tier(user),
        "withdrawals": withdrawals_for_account(account=account, limit=20),
    }


def _review(
    request: HttpRequest,
    form: WithdrawConfirmForm,
    account: Account,
    address: WithdrawalAddress,
    amount_sats: int,
    status: int = 200,
) -> HttpResponse:
    fee = withdrawal_fee_sats()
    try:
        needs_travel = withdrawal_needs_travel_rule(amount_sats=amount_sats)
    except ApplicationError:
        needs_travel = True
    return render(
        request,
        "accounts/custody/withdraw_confirm.html",
        {
            "form": form,
            "account": account,
            "address": address,
            "amount_sats": amount_sats,
            "fee_sats": fee,
            "total_sats": amount_sats + fee,
            "after_sats": account.available_minor - amount_sats - fee,
            "needs_travel": needs_travel,
        },
        status=status,
    )


def _withdraw_confirm(request: HttpRequest, account: Account) -> HttpResponse:
    user = current_user(request)
    form = WithdrawConfirmForm(request.POST, user=user)
    if not (form.is_valid() and form.cleaned_data.get("amount_minor")):
        return render(
            request,
            "accounts/custody/withdraw.html",
            _withdraw_context(user, account, form),
            status=422,
        )
    data = form.cleaned_data
    travel = {name: data.get(name) or "" for name in WithdrawConfirmForm.TRAVEL_FIELDS}
    try:
        withdrawal = customer_withdrawal_request(
            user=user,
            address_id=data["address"].pk,
            amount_sats=data["amount_minor"],
            idempotency_key=data["idempotency_key"],
            otp_code=data["otp_code"],
            travel_rule=travel,
            client_address=address_of(request),
        )
    except ApplicationError as exc:
        address, amount_sats = data["address"], data["amount_minor"]
        form_error(form, exc)  # this drops the fields in error from cleaned_data
        return _review(request, form, account, address, amount_sats, status=422)
    messages.success(request, _("Withdrawal requested. You can follow it here."))
    return redirect("withdrawal_detail", withdrawal_id=withdrawal.pk)


@verified_customer_required
def withdrawal_detail(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = withdrawal_get(withdrawal_id=withdrawal_id, user=current_user(request))
    if withdrawal is None:
        raise Http404("No such withdrawal")
    return render(
        request,
        "accounts/custody/withdrawal_detail.html",
        {
            "withdrawal": withdrawal,
            "can_cancel": withdrawal.status in CANCELLABLE,
            "open": withdrawal.status in OPEN_STATUSES,
        },
    )


@verified_customer_required
@require_POST
def withdrawal_cancel_view(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    try:
        withdrawal_cancel(
            withdrawal_id=withdrawal_id,
            actor=current_user(request),
            client_address=address_of(request),
        )
    except NotFound:
        raise Http404("No such withdrawal") from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Withdrawal cancelled. The money is available again."))
    return redirect("withdrawal_detail", withdrawal_id=withdrawal_id)
