"""``manage.py treasury_rebalance``: settle moves in flight, sweep or ask for a refill."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from treasury.tasks import treasury_rebalance


class Command(BaseCommand):
    help = "Run the rebalancer once (what the periodic task does)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(treasury_rebalance()))
