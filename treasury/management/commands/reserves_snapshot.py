"""``manage.py reserves_snapshot``: take a proof-of-reserves snapshot now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from treasury.services import reserves_snapshot


class Command(BaseCommand):
    help = "Build the liabilities Merkle sum tree and list the bank's addresses with balances."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            snapshot = reserves_snapshot()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"snapshot {snapshot.pk}: root {snapshot.root_hash} total {snapshot.total_sats} sats "
            f"over {snapshot.leaf_count} accounts; assets {snapshot.assets_total_sats} sats"
        )
