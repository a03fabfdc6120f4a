"""Shared pieces of the web banking views: 2FA gate, error mapping; access checks re-exported."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.access import View
from accounts.services.twofactor import twofactor_enabled
from core.errors import ApplicationError
from core.http import client_address


def twofactor_required(view: View) -> View:
    """Send a customer without an authenticator app to set one up first."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not twofactor_enabled(request.user):
            messages.info(request, _("Set up two-factor authentication first: this page needs it."))
            return redirect(f"{reverse('twofactor_setup')}?{urlencode({'next': request.path})}")
        return view(request, *args, **kwargs)

    return wrapped


def form_error(
    form: forms.Form, exc: ApplicationError, field_map: dict[str, str] | None = None
) -> None:
    """Put a service error's field messages next to the matching form fields."""
    field_map = field_map or {}
    placed = False
    for name, field_messages in exc.fields.items():
        target = field_map.get(name, name)
        for message in field_messages:
            if target in form.fields:
                form.add_error(target, message)
                placed = True
            else:
                form.add_error(None, message)
                placed = True
    if not placed:
        form.add_error(None, exc.message)


def address_of(request: HttpRequest) -> str | None:
    return client_address(request)
