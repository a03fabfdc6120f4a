"""``manage.py audit_anchor``: seal the audit chain head now and publish it outside the database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit.anchors import audit_anchor_publish


class Command(BaseCommand):
    help = "Seal the audit chain head (HMAC) and append it to the anchor file."

    def handle(self, *args: Any, **options: Any) -> None:
        anchor = audit_anchor_publish()
        self.stdout.write(f"audit_anchor: sealed #{anchor.seq} {anchor.hash_hex[:16]}…")
