"""Sign up, email confirmation, log in (with the second factor), log out, password reset."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_ratelimit.decorators import ratelimit

from accounts.access import View, customer_required
from accounts.models import User
from accounts.services.sessions import user_session_forget, user_session_record
from accounts.services.twofactor import twofactor_check, twofactor_enabled
from banking.forms import LoginForm, OtpForm, SignupForm
from banking.services.signup import (
    EmailTaken,
    email_confirm,
    email_confirmation_send,
    email_taken_notice_send,
    user_signup,
)
from banking.views.common import address_of, form_error
from core.errors import ApplicationError

PENDING_LOGIN = "pending_login"
SIGNUP_EMAIL = "signup_email"
PENDING_LOGIN_MAX_S = 300


def rate_limited(setting: str) -> Callable[[View], View]:
    """Limit POSTs per client address to the rate in ``settings.<setting>``; answer 429 beyond it."""

    def rate(group: str, request: HttpRequest) -> str:
        return str(getattr(settings, setting))

    def decorate(view: View) -> View:
        @ratelimit(key="ip", rate=rate, method="POST", block=False, group=setting)
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if getattr(request, "limited", False):
                return render(request, "accounts/rate_limited.html", status=429)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """Return ``candidate`` if it is a local URL, else the dashboard."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _complete_login(request: HttpRequest, user: User, backend: str) -> None:
    login(request, user, backend=backend)
    user_session_record(
        user=user,
        session_key=request.session.session_key or "",
        ip=address_of(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


@rate_limited("RATELIMIT_SIGNUP")
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        base_url = request.build_absolute_uri("/")
        try:
            with transaction.atomic():
                user = user_signup(
                    email=email,
                    password=form.cleaned_data["password1"],
                    client_address=address_of(request),
                )
                email_confirmation_send(user=user, base_url=base_url)
        except EmailTaken:
            # Answer exactly as for a new email: the address's owner is told by mail.
            email_taken_notice_send(email=email, base_url=base_url)
        except ApplicationError as exc:
            form_error(form, exc)
            return render(request, "accounts/auth/signup.html", {"form": form})
        request.session[SIGNUP_EMAIL] = email
        return redirect("signup_done")
    return render(request, "accounts/auth/signup.html", {"form": form})


def signup_done(request: HttpRequest) -> HttpResponse:
    """Say "check your email", the same for a new and a registered address."""
    return render(
        request, "accounts/auth/signup_done.html", {"email": request.session.get(SIGNUP_EMAIL, "")}
    )


@rate_limited("RATELIMIT_SIGNUP")
@customer_required
@require_POST
def confirmation_resend(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if user.email_verified_at is None:
        email_confirmation_send(user=user, base_url=request.build_absolute_uri("/"))
        messages.success(
            request, _("We sent a new confirmation link to %(email)s.") % {"email": user.email}
        )
    return redirect("dashboard")


def confirm_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Confirm on POST only: mail scanners that open links must not confirm for the user."""
    if request.method == "POST":
        try:
            email_confirm(uidb64=uidb64, token=token)
        except ApplicationError as exc:
            return render(
                request, "accounts/auth/confirm_email.html", {"error": exc.message}, status=400
            )
        messages.success(request, _("Your email is confirmed. Welcome to Alatau Bank."))
        return redirect("dashboard" if request.user.is_authenticated else "login")
    return render(request, "accounts/auth/confirm_email.html")


def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated:
        return redirect(safe_next(request, next_url))
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        backend = getattr(user, "backend", "django.contrib.auth.backends.ModelBackend")
        if twofactor_enabled(user):
            request.session[PENDING_LOGIN] = {
                "user_id": user.pk,
                "backend": backend,
                "next": next_url,
                "at": int(time.time()),
            }
            return redirect("login_verify")
        _complete_login(request, user, backend)
        return redirect(safe_next(request, next_url))
    return render(request, "accounts/auth/login.html", {"form": form, "next": next_url})


def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step of login: the code from the authenticator app or a backup code."""
    pending = request.session.get(PENDING_LOGIN)
    if not pending or time.time() - pending["at"] > PENDING_LOGIN_MAX_S:
        request.session.pop(PENDING_LOGIN, None)
        messages.info(request, _("Please log in again."))
        return redirect("login")
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING_LOGIN, None)
        return redirect("login")
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = twofactor_check(user=user, code=form.cleaned_data["otp_code"])
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            request.session.pop(PENDING_LOGIN, None)
            _complete_login(request, user, pending["backend"])
            otp_login(request, device)
            return redirect(safe_next(request, pending.get("next")))
    return render(request, "accounts/auth/login_verify.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.session.session_key:
        user_session_forget(session_key=request.session.session_key)
    logout(request)
    messages.success(request, _("You have logged out."))
    return redirect("login")


def locked_out(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/auth/locked_out.html", status=429)


_reset_view = auth_views.PasswordResetView.as_view(
    template_name="accounts/auth/password_reset.html",
    email_template_name="accounts/email/password_reset.txt",
    subject_template_name="accounts/email/password_reset_subject.txt",
    success_url=reverse_lazy("password_reset_done"),
)


@rate_limited("RATELIMIT_PASSWORD_RESET")
def password_reset(request: HttpRequest) -> HttpResponseBase:
    return _reset_view(request)


password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/auth/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/auth/password_reset_confirm.html",
    success_url=reverse_lazy("password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/auth/password_reset_complete.html"
)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change; other sessions end (their auth hash no longer matches)."""

    template_name = "accounts/security/password_change.html"
    success_url = reverse_lazy("security")

    def form_valid(self, form: Any) -> HttpResponse:
        old_key = self.request.session.session_key or ""
        response = super().form_valid(form)  # cycles the session key
        user_session_forget(session_key=old_key)
        user_session_record(
            user=form.user,
            session_key=self.request.session.session_key or "",
            ip=address_of(self.request),
            user_agent=self.request.META.get("HTTP_USER_AGENT", ""),
        )
        messages.success(
            self.request, _("Your password was changed. Other sessions were signed out.")
        )
        return response


password_change = customer_required(PasswordChangeView.as_view())
