"""Identity (KYC) submission and status."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.access import current_user, customer_required
from accounts.models import KycStatus
from banking.forms import IdentityForm
from banking.services.kyc import identity_for, identity_submit, tier_table
from banking.views.common import address_of, form_error
from core.errors import ApplicationError


@customer_required
def identity(request: HttpRequest) -> HttpResponse:
    record = identity_for(user=current_user(request))
    can_submit = record.status in (KycStatus.NONE, KycStatus.REJECTED)
    form = IdentityForm(request.POST or None, request.FILES or None) if can_submit else None
    if request.method == "POST" and form is not None and form.is_valid():
        data = form.cleaned_data
        try:
            identity_submit(
                user=current_user(request),
                full_name=data["full_name"],
                date_of_birth=data["date_of_birth"],
                iin=data["iin"],
                address=data["address"],
                document=data["document"],
                client_address=address_of(request),
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Thank you. We will review your identity shortly."))
            return redirect("identity")
    return render(
        request,
        "accounts/identity.html",
        {"identity": record, "form": form, "tiers": tier_table()},
    )
