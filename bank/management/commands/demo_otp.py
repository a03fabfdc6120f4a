"""``manage.py demo_otp EMAIL``: print a demo staff member's current TOTP code (development only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current admin 2FA code of a demo staff member (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ALATAU_ENV != "development":
            raise CommandError("demo_otp runs only with ALATAU_ENV=development")
        device = TOTPDevice.objects.filter(user__email__iexact=options["email"]).first()
        if device is None:
            raise CommandError("No TOTP device for that email")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
