"""Shared pieces of the web banking views: access checks and error mapping."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import User
from accounts.services.twofactor import twofactor_enabled
from core.errors import ApplicationError
from core.http import client_address

View = Callable[..., HttpResponseBase]


def customer_required(view: View) -> View:
    """Allow signed-in customers only; staff get a plain refusal page, not customer data."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_staff:
            return render(request, "accounts/staff_refused.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def verified_customer_required(view: View) -> View:
    """Customer pages that move money need a confirmed email address."""

    @customer_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if current_user(request).email_verified_at is None:
            return render(request, "accounts/email_unconfirmed.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def twofactor_required(view: View) -> View:
    """Send a customer without an authenticator app to set one up first."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not twofactor_enabled(request.user):
            messages.info(request, "Set up two-factor authentication first: this page needs it.")
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


def current_user(request: HttpRequest) -> User:
    """Return the signed-in customer (views behind ``customer_required`` only)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def address_of(request: HttpRequest) -> str | None:
    return client_address(request)
