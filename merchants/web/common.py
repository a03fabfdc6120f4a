"""Shared pieces of the merchant pages: who may see them, error mapping, QR codes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe

from core.errors import ApplicationError
from core.qr import qr_svg as core_qr_svg
from merchants.models import Merchant
from merchants.selectors import merchants_for_user

View = Callable[..., HttpResponseBase]
QR_SCALE = 5
QR_BORDER = 4  # modules of quiet zone, as the QR standard asks


def merchant_required(view: View) -> View:
    """Allow the owner of a store only; pass the store as ``merchant``."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_staff:
            return render(request, "accounts/staff_refused.html", status=403)
        merchant = (
            merchants_for_user(request.user).select_related("btc_account", "kzt_account").first()
        )
        if merchant is None:
            raise Http404("You are not a merchant")
        return view(request, merchant, *args, **kwargs)

    return wrapped


def store_of(user: Any) -> Merchant | None:
    if not getattr(user, "is_authenticated", False) or user.is_staff:
        return None
    return merchants_for_user(user).first()


def add_errors(form: forms.Form, exc: ApplicationError) -> None:
    """Put a service error on the form: field errors where the field exists, once each."""
    placed = False
    for name, messages in exc.fields.items():
        field = name if name in form.fields else None
        for message in messages:
            form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def qr_svg(data: str) -> SafeString:
    """Return an SVG QR code with its quiet zone and a viewBox (the one maker, ``core.qr``)."""
    svg = core_qr_svg(data).replace("<svg ", '<svg class="qr-code" ', 1)
    return mark_safe(svg)  # noqa: S308 - segno's own SVG of our own data
