"""``manage.py ledger_check``: verify the ledger's invariants; exit 1 on any breach."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import ledger_check, trial_balance
from core.money import format_amount


class Command(BaseCommand):
    help = "Verify ledger invariants (sums to zero, balances match transfers and holds)."

    def handle(self, *args: Any, **options: Any) -> None:
        for row in trial_balance():
            self.stdout.write(
                f"{row.currency} {row.kind:<13} accounts={row.accounts:<7} "
                f"posted={format_amount(row.posted_minor, row.currency):>22} "
                f"held={format_amount(row.held_minor, row.currency)}"
            )
        breaches = ledger_check()
        if breaches:
            for breach in breaches:
                self.stderr.write(f"BREACH {breach.check}: {breach.detail}")
            raise CommandError(f"ledger_check: {len(breaches)} breach(es)")
        self.stdout.write(self.style.SUCCESS("ledger_check: OK, every invariant holds"))
