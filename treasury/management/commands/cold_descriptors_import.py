"""``manage.py cold_descriptors_import DESC [DESC ...]``: feed the watch-only cold wallet."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from treasury.services import cold_descriptors_import


class Command(BaseCommand):
    help = "Create the watch-only cold wallet if needed and import public descriptors into it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("descriptors", nargs="+", help="public descriptors (xpub/tpub)")
        parser.add_argument("--range-end", type=int, default=999)
        parser.add_argument(
            "--rescan-from",
            type=int,
            default=None,
            help="UNIX time to rescan from (default: now, no rescan)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        timestamp: int | str = (
            options["rescan_from"] if options["rescan_from"] is not None else "now"
        )
        try:
            rows = cold_descriptors_import(
                descriptors=options["descriptors"],
                actor=None,
                range_end=options["range_end"],
                timestamp=timestamp,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for row in rows:
            self.stdout.write(f"imported {row}")
