"""Per-client rate limits of the public merchant pages: payment links and the checkout.

They count with the API's own fixed-window counter (``merchants.auth.window_hit``:
Redis ``INCR``, atomic under concurrency), keyed by the client's address, so a
script cannot open payment links, make invoices or poll at speed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.http import client_address
from merchants.auth import window_hit

View = Callable[..., HttpResponseBase]

# Settings and their defaults (requests per client address).
PAGE_RATE = "MERCHANT_WEB_PUBLIC_RATE"  # the payment-link and checkout pages
PAY_RATE = "MERCHANT_WEB_PAY_RATE"  # paying a link (makes an invoice), paying in-bank
POLL_RATE = "MERCHANT_WEB_POLL_RATE"  # the checkout's status poll (every 3 s per open page)
DEFAULTS = {PAGE_RATE: "60/min", PAY_RATE: "10/min", POLL_RATE: "120/min"}


def client_rate_limited(setting: str, *, as_json: bool = False) -> Callable[[View], View]:
    """Limit a view per client address to ``settings.<setting>``; answer 429 beyond it.

    The answer is a readable page (or JSON for a poll) with ``Retry-After``: the
    seconds left in the window.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            rate = str(getattr(settings, setting, DEFAULTS[setting]))
            client = client_address(request) or "unknown"
            hits, limit, wait_s = window_hit(f"web:{setting}:{client}", rate)
            if hits <= limit:
                return view(request, *args, **kwargs)
            response = _too_many(request, as_json=as_json, wait_s=max(wait_s, 1))
            response["Retry-After"] = str(max(wait_s, 1))
            return response

        return wrapped

    return decorate


def _too_many(request: HttpRequest, *, as_json: bool, wait_s: int) -> HttpResponseBase:
    message = _("Too many requests from your address. Please wait a moment and try again.")
    if as_json:
        return JsonResponse(
            {"code": "too-many-requests", "message": message, "retryAfter": wait_s}, status=429
        )
    return render(request, "merchant/rate_limited.html", {"wait_s": wait_s}, status=429)
