"""``manage.py deposits_scan``: scan for deposits now (also run by ``-blocknotify``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from custody.errors import NodeError, NodeUnavailable
from custody.services import deposit_scan


class Command(BaseCommand):
    help = "Record and credit deposits to the hot wallet (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enqueue", action="store_true",
                            help="queue the Celery task instead of scanning here")  # fmt: skip
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            from custody.tasks import deposit_scan as task

            task.delay()
            return
        try:
            report = deposit_scan()
        except (NodeUnavailable, NodeError) as exc:
            raise CommandError(str(exc)) from exc
        if not options["quiet"]:
            self.stdout.write(
                "busy: another scan is running" if report.busy else
                f"seen {report.seen}, recorded {report.recorded}, credited {report.credited}, "
                f"suspense {report.suspense}, reorged {report.reorged}"
            )  # fmt: skip
