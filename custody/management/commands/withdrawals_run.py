"""``manage.py withdrawals_run``: batch, broadcast and confirm withdrawals now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from custody import services
from custody.errors import NodeError, NodeUnavailable


class Command(BaseCommand):
    help = "Run the withdrawal batch, broadcast and confirm steps once (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            batch = services.withdrawal_batch_create()
            sent = services.withdrawal_batch_broadcast()
            confirmed = services.withdrawal_batch_confirm()
        except (NodeUnavailable, NodeError) as exc:
            raise CommandError(str(exc)) from exc
        made = f"batch {batch.txid}" if batch else "no new batch"
        self.stdout.write(f"{made}; broadcast {sent}; confirmed {confirmed}")
