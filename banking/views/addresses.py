"""Saved withdrawal addresses."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.access import current_user, verified_customer_required
from banking.forms import WithdrawalAddressForm
from banking.views.common import address_of, form_error, twofactor_required
from core.errors import ApplicationError, NotFound
from custody.selectors import withdrawal_addresses_active
from custody.services.withdrawal_addresses import withdrawal_address_add, withdrawal_address_remove


@verified_customer_required
@twofactor_required
def addresses(request: HttpRequest) -> HttpResponse:
    form = WithdrawalAddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = withdrawal_address_add(
                user=current_user(request),
                label=data["label"],
                address=data["address"],
                otp_code=data["otp_code"],
                client_address=address_of(request),
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            local = timezone.localtime(saved.usable_from)
            messages.success(
                request,
                _("Address saved. For your safety you can use it from %(when)s.")
                % {"when": f"{local:%d.%m.%Y %H:%M}"},
            )
            return redirect("addresses")
    saved_list = withdrawal_addresses_active(user=current_user(request))
    return render(
        request,
        "accounts/addresses.html",
        {
            "form": form,
            "addresses": saved_list,
            "now": timezone.now(),
            "cooldown": cooldown_text(),
        },
    )


def cooldown_text() -> str:
    """Return the address cool-down in words ("24 hours", "30 minutes")."""
    seconds = int(getattr(settings, "WITHDRAWAL_ADDRESS_COOLDOWN_S", 86400))
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    minutes = max(1, seconds // 60)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


@verified_customer_required
@require_POST
def address_remove(request: HttpRequest, address_id: int) -> HttpResponse:
    try:
        withdrawal_address_remove(
            user=current_user(request), address_id=address_id, client_address=address_of(request)
        )
    except NotFound:
        raise Http404("No such address") from None
    messages.success(request, _("Address removed."))
    return redirect("addresses")
