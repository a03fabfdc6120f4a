"""``manage.py cold_signer_create``: DEVELOPMENT ONLY stand-in for the offline signer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from treasury.services import cold_signer_create

WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! DEVELOPMENT ONLY. Wallet {name!r} holds COLD PRIVATE KEYS on this node.
!! It stands in for the offline signing device. Never do this with real money.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


class Command(BaseCommand):
    help = "Create the stand-in cold signer wallet and print the public descriptors to import."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=None, help="signer wallet name (cold-signer...)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            descriptors = cold_signer_create(name=options["name"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        name = options["name"] or settings.TREASURY_SIGNER_WALLET
        self.stderr.write(WARNING.format(name=name))
        self.stdout.write("Import these public descriptors into the cold wallet:")
        for descriptor in descriptors:
            self.stdout.write(descriptor)
        self.stdout.write(
            "e.g. manage.py cold_descriptors_import --as OPERATOR_EMAIL "
            + " ".join(f"'{d}'" for d in descriptors)
        )
