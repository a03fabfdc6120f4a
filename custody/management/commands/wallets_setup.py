"""``manage.py wallets_setup``: create or load the custody wallets (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from custody.errors import NodeError, NodeUnavailable
from custody.services import wallets_setup


class Command(BaseCommand):
    help = "Create or load the hot wallet on the node and record it."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            wallets = wallets_setup()
        except (NodeUnavailable, NodeError) as exc:
            raise CommandError(str(exc)) from exc
        for wallet in wallets:
            self.stdout.write(f"wallet {wallet.name} ({wallet.kind}) ready")
