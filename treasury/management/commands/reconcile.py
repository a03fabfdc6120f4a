"""``manage.py reconcile``: compare the node's wallets with the ledger (exit 1 on mismatch)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from treasury.services import reconcile


class Command(BaseCommand):
    help = "Reconcile hot and cold wallets, reserves and wallet transactions with the ledger."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = reconcile(trigger="command")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            json.dumps(
                {
                    "run": run.pk,
                    "status": run.status,
                    "figures": run.figures,
                    "differences": run.differences,
                },
                indent=2,
            )
        )
        if run.differences:
            raise CommandError(f"reconciliation {run.pk}: mismatch")
