"""Two-factor authentication (django-otp): TOTP enrolment, backup codes, checks."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.chain import audit_record
from core.errors import InvalidState, ValidationFailed
from core.money import Currency

BACKUP_CODE_COUNT = 10
TOTP_DIGITS = 6
TOTP_NAME = "Authenticator app"
BACKUP_NAME = "Backup codes"


def twofactor_enabled(user: Any) -> bool:
    """Return whether the user has a confirmed authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def twofactor_check(*, user: Any, code: str, field: str = "otp_code") -> Device:
    """Return the device that accepts ``code`` (app or backup code), or raise a field error.

    Each device throttles repeated failures, so guessing is slow. The code goes
    only to the device of its shape (6 digits: the app; otherwise a backup code),
    so a backup code never counts as a failed app code and vice versa.
    """
    code = "".join(code.split()).lower()
    if not code:
        raise ValidationFailed(
            "Code required", fields={field: [_("Enter the code from your app.")]}
        )
    kind = TOTPDevice if len(code) == TOTP_DIGITS and code.isdigit() else StaticDevice
    for device in devices_for_user(user, confirmed=True):
        if not isinstance(device, kind):
            continue
        _raise_if_throttled(device, field)
        if device.verify_token(code):
            return device
    raise ValidationFailed(
        "Wrong code", fields={field: [_("This code is not valid. Check your app and try again.")]}
    )


def _raise_if_throttled(device: Device, field: str) -> None:
    """Say why a code is refused while the device waits after wrong codes, and for how long.

    django-otp refuses every code, even a right one, for a doubling delay after each
    failure; without this the customer sees "not valid" for a valid code.
    """
    allowed, info = device.verify_is_allowed()
    if allowed:
        return
    locked_until = (info or {}).get("locked_until")
    seconds = 1
    if locked_until is not None:
        seconds = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
    message = ngettext(
        "Too many wrong codes. Wait %(seconds)d second, then enter the code your app shows.",
        "Too many wrong codes. Wait %(seconds)d seconds, then enter the code your app shows.",
        seconds,
    ) % {"seconds": seconds}
    raise ValidationFailed("Code throttled", fields={field: [message]})


def password_check(*, user: Any, password: str, field: str = "password") -> None:
    """Re-authenticate a signed-in user with their password before a sensitive change."""
    if not password or not user.check_password(password):
        raise ValidationFailed(
            "Wrong password", fields={field: [_("Your password is not correct.")]}
        )


def totp_device_start(*, user: Any) -> TOTPDevice:
    """Create an unconfirmed authenticator device (replacing earlier unconfirmed ones)."""
    if twofactor_enabled(user):
        raise InvalidState("Two-factor authentication is already on.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def totp_device_confirm(
    *, user: Any, device_id: int, code: str, client_address: str | None = None
) -> list[str]:
    """Confirm the app with its first code; return fresh backup codes (shown once)."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(pk=device_id, user=user, confirmed=False)
            .first()
        )
        if device is None:
            raise InvalidState("Start the set-up again.")
        if not device.verify_token("".join(code.split())):
            raise ValidationFailed(
                "Wrong code", fields={"otp_code": ["This code is not valid. Try the newest one."]}
            )
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _backup_codes_replace(user)
        audit_record(actor=user, action="2fa.enable", obj=device, client_address=client_address)
    return codes


def backup_codes_regenerate(*, user: Any, client_address: str | None = None) -> list[str]:
    """Replace the user's backup codes; the old ones stop working."""
    if not twofactor_enabled(user):
        raise InvalidState("Turn on two-factor authentication first.")
    with transaction.atomic():
        codes = _backup_codes_replace(user)
        audit_record(actor=user, action="2fa.backup_codes", obj=user, client_address=client_address)
    return codes


def twofactor_disable(*, user: Any, client_address: str | None = None) -> None:
    """Remove every second-factor device of the user."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(actor=user, action="2fa.disable", obj=user, client_address=client_address)


def _backup_codes_replace(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def transfer_2fa_threshold(currency: str) -> int:
    """Return the amount (minor units) from which a transfer needs a second factor."""
    if currency == Currency.BTC:
        return int(settings.TRANSFER_2FA_THRESHOLD_SATS)
    return int(settings.TRANSFER_2FA_THRESHOLD_TIYN)


def transfer_needs_2fa(*, currency: str, amount_minor: int) -> bool:
    """Return whether moving this amount needs a second factor (every door asks the same)."""
    return amount_minor >= transfer_2fa_threshold(currency)
