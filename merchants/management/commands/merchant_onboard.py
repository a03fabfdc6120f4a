"""``manage.py merchant_onboard --name "Tea House" --owner owner@example.kz [--kzt]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from core.errors import ApplicationError
from merchants.services.merchants import merchant_onboard


class Command(BaseCommand):
    help = "Onboard a merchant: store id, BTC (and optionally KZT) merchant accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="The owner's email (an existing user).")
        parser.add_argument("--kzt", action="store_true", help="Open a KZT account too.")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = User.objects.filter(email__iexact=options["owner"]).first()
        if owner is None:
            raise CommandError(f"No user with email {options['owner']}")
        try:
            merchant = merchant_onboard(
                name=options["name"], owner=owner, actor=None, with_kzt=options["kzt"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"store_id={merchant.store_id} btc_account={merchant.btc_account.number}")
