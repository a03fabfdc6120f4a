"""Set fiat pricing rates from a feed file: ``manage.py pricing_rates_feed rates.json``.

The file (``-`` for stdin) is a JSON object of ISO 4217 codes to the price of 1 BTC as
a decimal string in that currency, e.g. ``{"USD": "64392.23", "EUR": "59310.05"}``.
Each rate is set by the system (``actor=None``, audited, source ``feed``) under the
same controls as staff's: a jump over the bound is refused (a feed never has a second
person) and the old rate stays until it goes stale or staff set one with four eyes.
Exits non-zero when any rate was refused; the others are set.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from core.money import parse_amount
from exchange.models import RateSource
from exchange.services import pricing_rate_set

FEED_BYTES_MAX = 64 * 1024
FEED_RATES_MAX = 50


def _read(path: str) -> dict[str, Any]:
    if path == "-":
        text = sys.stdin.read(FEED_BYTES_MAX + 1)
    else:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(FEED_BYTES_MAX + 1)
    if len(text) > FEED_BYTES_MAX:
        raise CommandError(f"The feed is larger than {FEED_BYTES_MAX} bytes")
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise CommandError(f"The feed is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not 0 < len(data) <= FEED_RATES_MAX:
        raise CommandError(
            f'Expected an object of 1 to {FEED_RATES_MAX} rates: {{"USD": "64392.23"}}'
        )
    return data


class Command(BaseCommand):
    help = "Set fiat pricing rates (price of 1 BTC per ISO 4217 code) from a JSON file or stdin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help='JSON file, or "-" for stdin')

    def handle(self, *args: Any, **options: Any) -> None:
        refused = []
        for code, value in _read(options["path"]).items():
            try:
                if not isinstance(value, str):
                    raise CommandError(f"{code}: send the rate as a decimal string")
                minor = parse_amount(value, str(code), field=str(code))
                rate = pricing_rate_set(
                    currency=str(code), minor_per_btc=minor, actor=None, source=RateSource.FEED
                )
            except (ApplicationError, CommandError) as exc:
                message = getattr(exc, "message", str(exc))
                fields = getattr(exc, "fields", {})
                detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
                refused.append(code)
                self.stderr.write(
                    f"{code}: refused: {message}" + (f" ({detail})" if detail else "")
                )
                continue
            self.stdout.write(f"{code}: set {rate}")
        if refused:
            raise CommandError(f"Refused: {', '.join(map(str, refused))}")
