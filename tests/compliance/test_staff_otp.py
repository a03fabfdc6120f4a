"""``manage.py staff_otp`` enrols a staff member's TOTP device and prints its URI."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_enrol_prints_uri_and_qr(make_user: Callable[..., User]) -> None:
    user = make_user(email="officer@alatau.example", is_staff=True)
    out = io.StringIO()
    call_command("staff_otp", "Officer@alatau.example", stdout=out)
    text = out.getvalue()
    assert "otpauth://totp/" in text and "secret=" in text
    assert "\u2588" in text or "\u2580" in text  # the QR in block characters
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    assert AuditEvent.objects.filter(action="staff.otp_enrol", object_id=str(user.pk)).exists()
    with pytest.raises(CommandError, match="--reset"):
        call_command("staff_otp", user.email, stdout=io.StringIO())
    call_command("staff_otp", user.email, "--reset", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).count() == 1
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_refuses_customers(make_user: Callable[..., User]) -> None:
    user = make_user()
    with pytest.raises(CommandError, match="staff"):
        call_command("staff_otp", user.email, stdout=io.StringIO())
    with pytest.raises(CommandError, match="No user"):
        call_command("staff_otp", "nobody@example.kz", stdout=io.StringIO())
