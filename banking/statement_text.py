"""Statement lines as text for the downloads, with what every line shares worked out once.

The CSV and PDF of a 100,000-line statement formatted each line through the template
filters (``money``, ``movement_label``) and ``timezone.localtime``. Each of those looks
up the active language or time zone on every call (asgiref locals, the gettext
catalog): about half of the downloads' time (profiled, bench/RESULTS.md "Scale"). A
``StatementText`` is made once per download, inside the download's language, and
gives the same text as those filters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from django.utils import timezone

from accounts.selectors import StreamLine
from banking.templatetags.bank import decimal_mark, grouped, movement_label
from core.money import amount_formatter


class StatementText:
    """Dates, labels and amounts of one statement's lines, in the active language."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.zone: tzinfo = timezone.get_current_timezone()
        self.mark = decimal_mark()
        self.plain: Callable[[int], str] = amount_formatter(currency)
        self.labels: dict[str, str] = {}  # one per transfer code

    def local(self, when: datetime) -> datetime:
        """``timezone.localtime(when)``, the zone looked up once."""
        return when.astimezone(self.zone)

    def label(self, line: StreamLine) -> str:
        """``movement_label(line)``, translated once per transfer code."""
        label = self.labels.get(line.code)
        if label is None:
            label = self.labels[line.code] = movement_label(line)
        return label

    def money(self, minor: int) -> str:
        """``money(minor, currency)``: grouped, the language's decimal mark, the code."""
        return grouped(self.plain(minor), self.currency, self.mark)
