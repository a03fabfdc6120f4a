"""Webhooks: each with its recent deliveries, and a button to send one again."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import acting_user
from core.errors import ApplicationError
from merchants.models import Merchant
from merchants.selectors import delivery_list, webhook_list
from merchants.services.webhooks import webhook_redeliver
from merchants.web.common import merchant_required

DELIVERIES_SHOWN = 20


@require_GET
@merchant_required
def webhooks(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    rows = [
        (hook, delivery_list(merchant=merchant, webhook_id=hook.id, count=DELIVERIES_SHOWN))
        for hook in webhook_list(merchant=merchant)
    ]
    return render(request, "merchant/webhooks.html", {"merchant": merchant, "rows": rows})


@require_POST
@merchant_required
def redeliver(
    request: HttpRequest, merchant: Merchant, webhook_id: str, delivery_id: str
) -> HttpResponse:
    try:
        new_id = webhook_redeliver(
            merchant=merchant,
            webhook_id=webhook_id,
            delivery_id=delivery_id,
            actor=acting_user(request),
        )
    except ApplicationError:
        raise Http404("No such delivery") from None
    messages.success(request, _("Sent again as delivery %(id)s.") % {"id": new_id})
    return redirect("merchant:webhooks")
