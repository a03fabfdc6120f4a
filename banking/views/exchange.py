"""Exchange BTC <-> KZT: ask for a quote, then accept it before it expires."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import current_user, verified_customer_required
from accounts.selectors import customer_accounts
from banking.forms import ExchangeForm
from banking.services.exchange import customer_quote_create
from banking.views.common import address_of, form_error
from core.errors import ApplicationError
from exchange.models import Quote
from exchange.services import (
    QuoteExpired,
    QuoteUsed,
    ask_rate,
    bid_rate,
    exchange_rate_current,
    quote_execute,
)


@verified_customer_required
def exchange(request: HttpRequest) -> HttpResponse:
    rate = exchange_rate_current()
    form = ExchangeForm(request.POST or None, initial={"direction": "btc_kzt"})
    if request.method == "POST" and form.is_valid() and form.cleaned_data.get("amount_minor"):
        try:
            quote = customer_quote_create(
                user=current_user(request),
                direction=form.cleaned_data["direction"],
                amount_in_minor=form.cleaned_data["amount_minor"],
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            return redirect("quote_detail", quote_id=quote.pk)
    accounts = customer_accounts(owner=current_user(request))
    context = {
        "form": form,
        "rate": rate,
        "accounts": accounts,
        "bid": bid_rate(rate.mid_tiyn_per_btc, rate.spread_bp) if rate else None,
        "ask": ask_rate(rate.mid_tiyn_per_btc, rate.spread_bp) if rate else None,
    }
    return render(request, "accounts/exchange/index.html", context)


def _own_quote(request: HttpRequest, quote_id: int) -> Quote:
    quote = Quote.objects.filter(pk=quote_id, user=current_user(request)).first()
    if quote is None:
        raise Http404("No such quote")
    return quote


@verified_customer_required
def quote_detail(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = _own_quote(request, quote_id)
    seconds_left = max(0, int((quote.expires_at - timezone.now()).total_seconds()))
    return render(
        request,
        "accounts/exchange/quote.html",
        {"quote": quote, "seconds_left": seconds_left, "expired": seconds_left == 0},
    )


@verified_customer_required
@require_POST
def quote_accept(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = _own_quote(request, quote_id)
    try:
        quote_execute(
            user=current_user(request), quote_id=quote.pk, client_address=address_of(request)
        )
    except QuoteUsed:
        messages.info(request, _("This exchange was already done."))
    except QuoteExpired as exc:
        messages.error(request, exc.message)
        return redirect("exchange")
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("quote_detail", quote_id=quote.pk)
    else:
        messages.success(request, _("Exchange done. Your balances are updated."))
    return redirect("dashboard")
