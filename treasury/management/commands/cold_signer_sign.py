"""``manage.py cold_signer_sign IN OUT``: DEVELOPMENT ONLY offline signing stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from treasury.services import cold_signer_sign


class Command(BaseCommand):
    help = "Sign a downloaded cold-move PSBT with the stand-in signer wallet (regtest only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("psbt_in")
        parser.add_argument("psbt_out")
        parser.add_argument("--name", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        psbt = Path(options["psbt_in"]).read_text(encoding="ascii").strip()
        Path(options["psbt_out"]).write_text(
            cold_signer_sign(psbt=psbt, name=options["name"]), encoding="ascii"
        )
        self.stdout.write(f"signed PSBT written to {options['psbt_out']}")
