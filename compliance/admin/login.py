"""The staff admin's login form: password and TOTP code on one page, first time.

django-otp's admin form refuses a code until the person picks a device from a list
it only fills after the first (failed) submit: "Please select a device". Staff have
one authenticator app (and maybe backup codes), so pick the device the code's shape
belongs to: six digits are the app's, anything else a backup code.
"""

from __future__ import annotations

from typing import Any

from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

TOTP_DIGITS = 6


def staff_device_for_token(user: Any, token: str) -> Device | None:
    """Return the user's one confirmed device that a code of this shape is for, or None."""
    code = "".join(str(token or "").split())
    kind = TOTPDevice if len(code) == TOTP_DIGITS and code.isdigit() else StaticDevice
    candidates = [d for d in devices_for_user(user, confirmed=True) if isinstance(d, kind)]
    return candidates[0] if len(candidates) == 1 else None


class StaffLoginForm(OTPAdminAuthenticationForm):
    """OTPAdminAuthenticationForm that chooses the device when the person did not."""

    def _chosen_device(self, user: Any) -> Device | None:
        device = super()._chosen_device(user)
        if device is None and user is not None:
            device = staff_device_for_token(user, self.cleaned_data.get("otp_token", ""))
        return device
