"""``manage.py cold_descriptors_import --as EMAIL DESC [DESC ...]``: propose cold descriptors.

Pinning cold descriptors is a four-eyes action: this command only proposes them in the
name of a custody operator; a second operator approves under Approval requests in the
admin, and only then are they imported into the watch-only wallet.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from core.errors import ApplicationError
from treasury.services import cold_descriptors_propose


class Command(BaseCommand):
    help = "Propose public descriptors for the watch-only cold wallet (a second operator approves)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("descriptors", nargs="+", help="public descriptors (xpub/tpub)")
        parser.add_argument("--as", dest="email", required=True, help="the proposing operator")
        parser.add_argument("--range-end", type=int, default=999)
        parser.add_argument(
            "--rescan-from",
            type=int,
            default=None,
            help="UNIX time to rescan from once approved (default: now, no rescan)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        timestamp: int | str = (
            options["rescan_from"] if options["rescan_from"] is not None else "now"
        )
        operator = User.objects.filter(email=options["email"]).first()
        try:
            proposal = cold_descriptors_propose(
                descriptors=options["descriptors"],
                actor=operator,
                range_end=options["range_end"],
                timestamp=timestamp,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        keys = ", ".join(proposal.params["fingerprints"])
        self.stdout.write(
            f"proposed (request {proposal.pk}) key(s) {keys}: a second operator approves it"
        )
