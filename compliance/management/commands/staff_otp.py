"""``manage.py staff_otp <email>``: enrol a staff member's TOTP device for the admin.

Prints the otpauth:// URI and a QR code to scan with an authenticator app. The
admin (django-otp's OTPAdminSite) cannot be entered without a confirmed device.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.chain import audit_record


class Command(BaseCommand):
    help = "Create (or with --reset, replace) a staff member's TOTP device and print its QR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--reset", action="store_true", help="delete the member's existing TOTP devices first"
        )
        parser.add_argument("--name", default="admin", help="device name shown at login")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError("No user with that email")
        if not user.is_staff or not user.is_active:
            raise CommandError("Only active staff members get admin devices")
        with transaction.atomic():
            existing = TOTPDevice.objects.filter(user=user)
            if existing.exists() and not options["reset"]:
                raise CommandError("The user already has a TOTP device; use --reset to replace it")
            removed = existing.count()
            existing.delete()
            device = TOTPDevice.objects.create(user=user, name=options["name"], confirmed=True)
            audit_record(
                actor=None,
                action="staff.otp_enrol",
                obj=user,
                data={"device_id": device.pk, "replaced": removed},
            )
        uri = device.config_url
        self.stdout.write(f"otpauth URI for {user.email}:\n{uri}\n")
        qr = segno.make(uri, error="m")
        buffer = io.StringIO()
        qr.terminal(out=buffer, compact=True)
        self.stdout.write(buffer.getvalue())
        self.stdout.write("Scan it in an authenticator app, then sign in at /admin/.")
