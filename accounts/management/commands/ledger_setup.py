"""``manage.py ledger_setup``: create the bank's system accounts (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services.accounts import system_accounts_setup


class Command(BaseCommand):
    help = "Create every missing system account (custody, fees, exchange, suspense, external)."

    def handle(self, *args: Any, **options: Any) -> None:
        for account in system_accounts_setup():
            self.stdout.write(f"{account.number} {account.kind} {account.currency}")
