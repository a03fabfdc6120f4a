"""Who may open a customer page: signed-in customers, and verified ones for money pages.

Every door with customer pages (web banking, the merchant checkout) uses these, so staff
never see customer pages and unverified users never move money.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render

from accounts.models import User

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


def current_user(request: HttpRequest) -> User:
    """Return the signed-in customer (views behind ``customer_required`` only)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def acting_user(request: HttpRequest) -> User | None:
    """Return the signed-in user to pass to a service as its actor (None if anonymous)."""
    user = request.user
    return user if isinstance(user, User) else None
