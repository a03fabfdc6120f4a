"""``manage.py audit_verify``: walk the audit hash chain; exit 1 on any break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.anchors import audit_anchors_verify
from audit.chain import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit hash chain and its sealed anchors (edited, deleted or rewritten events)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        breaks = [*audit_verify(), *audit_anchors_verify()]
        if breaks:
            for item in breaks:
                self.stderr.write(f"BREAK at #{item.seq}: {item.problem}")
            raise CommandError(f"audit_verify: {len(breaks)} break(s)")
        self.stdout.write(
            self.style.SUCCESS("audit_verify: OK, the chain is intact and matches its anchors")
        )
