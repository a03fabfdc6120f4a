"""Security settings: two-factor set-up, backup codes, sessions."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import current_user, customer_required
from accounts.services.sessions import (
    user_session_end,
    user_sessions_active,
    user_sessions_end_others,
)
from accounts.services.twofactor import (
    backup_codes_regenerate,
    password_check,
    totp_device_confirm,
    totp_device_start,
    twofactor_check,
    twofactor_disable,
    twofactor_enabled,
)
from banking.forms import OtpSetupForm, PasswordConfirmForm, TwofactorDisableForm
from banking.views.auth import safe_next
from banking.views.common import address_of, form_error
from core.errors import ApplicationError, NotFound
from core.qr import qr_svg as core_qr_svg

SETUP_DEVICE = "totp_setup_device"


def qr_svg(data: str, scale: int = 4) -> str:
    """Return an inline SVG QR code (no external request, no JavaScript); CSS sets its size."""
    return core_qr_svg(data)


@customer_required
def security(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    backup_left = StaticToken.objects.filter(device__user=user).count()
    return render(
        request,
        "accounts/security/index.html",
        {
            "twofactor_on": twofactor_enabled(user),
            "backup_left": backup_left,
            "sessions": user_sessions_active(user=user)[:50],
            "current_key": request.session.session_key,
        },
    )


@customer_required
def twofactor_setup(request: HttpRequest) -> HttpResponse:
    """Show a fresh secret as a QR code; confirm it with the first code from the app."""
    user = current_user(request)
    if twofactor_enabled(user):
        messages.info(request, _("Two-factor authentication is already on."))
        return redirect("security")
    form = OtpSetupForm(request.POST or None)
    device = None
    device_id = request.session.get(SETUP_DEVICE)
    if device_id:
        device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if request.method == "POST" and device is not None and form.is_valid():
        try:
            codes = totp_device_confirm(
                user=user,
                device_id=device.pk,
                code=form.cleaned_data["otp_code"],
                client_address=address_of(request),
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            request.session.pop(SETUP_DEVICE, None)
            device.refresh_from_db()
            otp_login(request, device)
            return render(
                request,
                "accounts/security/backup_codes.html",
                {
                    "codes": codes,
                    "codes_text": "\n".join(codes),
                    "next": safe_next(request, request.GET.get("next")),
                },
            )
    if device is None:
        device = totp_device_start(user=user)
        request.session[SETUP_DEVICE] = device.pk
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "accounts/security/twofactor_setup.html",
        {
            "form": form,
            "qr": qr_svg(device.config_url),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        },
    )


@customer_required
def backup_codes_new(request: HttpRequest) -> HttpResponse:
    """New backup codes after re-entering the password; shown once."""
    if not twofactor_enabled(current_user(request)):
        return redirect("security")
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_check(user=current_user(request), password=form.cleaned_data["password"])
            codes = backup_codes_regenerate(
                user=current_user(request), client_address=address_of(request)
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            return render(
                request,
                "accounts/security/backup_codes.html",
                {"codes": codes, "codes_text": "\n".join(codes)},
            )
    return render(request, "accounts/security/backup_codes_new.html", {"form": form})


@customer_required
def twofactor_off(request: HttpRequest) -> HttpResponse:
    """Turn two-factor off: needs the password and a current code."""
    if not twofactor_enabled(current_user(request)):
        return redirect("security")
    form = TwofactorDisableForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_check(user=current_user(request), password=form.cleaned_data["password"])
            twofactor_check(user=current_user(request), code=form.cleaned_data["otp_code"])
            twofactor_disable(user=current_user(request), client_address=address_of(request))
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            messages.warning(request, _("Two-factor authentication is off. Withdrawals need it."))
            return redirect("security")
    return render(request, "accounts/security/twofactor_off.html", {"form": form})


@customer_required
@require_POST
def session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        user_session_end(
            user=current_user(request),
            user_session_id=session_id,
            client_address=address_of(request),
        )
    except NotFound:
        raise Http404("No such session") from None
    messages.success(request, _("The session was ended."))
    return redirect("security")


@customer_required
@require_POST
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    count = user_sessions_end_others(
        user=current_user(request),
        keep_session_key=request.session.session_key or "",
        client_address=address_of(request),
    )
    messages.success(
        request,
        ngettext(
            "Signed out %(count)d other session.", "Signed out %(count)d other sessions.", count
        )
        % {"count": count},
    )
    return redirect("security")
