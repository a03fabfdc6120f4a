"""The PDF statement: the customer's name, page numbers, the time it was made, in their language.

Drawn page by page on a reportlab canvas as the lines arrive from the database (a
platypus ``Table`` of every line holds all rows as objects and lays the whole table out
at once). Only the current chunk of lines is in Python memory; reportlab keeps each
finished page's drawing operators until ``save``. The file is written to a spooled
temporary file (in memory while small, on disk beyond) and streamed out in blocks.

The text is set in DejaVu Sans (Debian's fonts-dejavu-core, installed by
``scripts/ensure-system-packages.sh``), which has the Cyrillic and Kazakh letters
(the nine letters of the Kazakh alphabet beyond Russian's) that the PDF core fonts lack.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account, Identity
from accounts.selectors import StatementStream, StreamLine, account_statement_stream
from banking.services.counterparty import stream_counterparties
from banking.templatetags.bank import money, movement_label

FONT = "AlatauSans"
FONT_BOLD = "AlatauSans-Bold"
FONT_DIR_DEFAULT = "/usr/share/fonts/truetype/dejavu"
SPOOL_MAX_BYTES = 8 * 1024 * 1024
READ_BLOCK_BYTES = 64 * 1024
LINES_PER_LOOKUP = 500
# Left edges of date, ref., description, counterparty; right edges of amount, balance.
COLUMNS_X = (36, 100, 140, 300, 470, 560)
ROW_HEIGHT = 11


def _fonts() -> tuple[str, str]:
    """Register DejaVu Sans once and return (regular, bold) font names."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT, FONT_BOLD
    folder = Path(getattr(settings, "PDF_FONT_DIR", FONT_DIR_DEFAULT))
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    if not regular.exists():
        raise RuntimeError(
            f"{regular} is missing: run scripts/ensure-system-packages.sh (fonts-dejavu-core)"
        )
    pdfmetrics.registerFont(TTFont(FONT, str(regular)))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold if bold.exists() else regular)))
    return FONT, FONT_BOLD


def _customer_name(user: Any) -> str:
    identity = Identity.objects.filter(user=user).exclude(full_name="").first()
    return identity.full_name if identity is not None else str(user.email)


def statement_pdf_response(
    *,
    account: Account,
    window: tuple[dt.datetime, dt.datetime],
    start: dt.date,
    end: dt.date,
    user: Any,
    filename: str,
    lines_max: int,
) -> StreamingHttpResponse:
    """Return the statement as a streamed PDF download."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115
    for stream in account_statement_stream(
        account=account, start=window[0], end=window[1], lines_max=lines_max
    ):
        _draw(spool, stream, (start, end), _customer_name(user), lines_max)
    spool.seek(0)
    response = StreamingHttpResponse(_blocks(spool), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _blocks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while block := spool.read(READ_BLOCK_BYTES):
            yield block


def _draw(
    out: IO[bytes], stream: StatementStream, period: tuple[dt.date, dt.date], name: str,
    lines_max: int,
) -> None:  # fmt: skip
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    cur = stream.account.currency
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(_("Alatau Bank statement"))
    canvas.setAuthor(_("Alatau Bank"))
    made = timezone.localtime().strftime("%d.%m.%Y %H:%M")
    header = [
        _("Alatau Bank — account statement"),
        _("Customer: %(name)s") % {"name": name},
        _("Account: %(number)s (%(currency)s)")
        % {"number": stream.account.number_formatted, "currency": cur},
        _("Period: %(start)s to %(end)s")
        % {"start": f"{period[0]:%d.%m.%Y}", "end": f"{period[1]:%d.%m.%Y}"},
        _("Made: %(when)s") % {"when": made},
    ]
    page = _Page(canvas, A4[1], header, made)
    page.row(["", "", _("Opening balance"), "", "", money(stream.opening_minor, cur)])
    closing, count = stream.opening_minor, 0
    while chunk := list(itertools.islice(stream.lines, LINES_PER_LOOKUP)):
        for line, other in zip(chunk, stream_counterparties(chunk), strict=True):
            page.row(_cells(line, other, cur))
        closing, count = chunk[-1].balance_minor, count + len(chunk)
    if count >= lines_max:
        cut = _("The statement was cut at %(lines)s lines.") % {"lines": lines_max}
        page.row(["", "", cut, "", "", ""])
    page.row(["", "", _("Closing balance"), "", "", money(closing, cur)])
    canvas.showPage()
    canvas.save()


def _cells(line: StreamLine, other: str, cur: str) -> list[str]:
    label = movement_label(line)
    if line.memo and line.code in ("internal", "payment", "refund"):
        label = f"{label}: {line.memo}"
    return [
        timezone.localtime(line.created_at).strftime("%d.%m.%Y %H:%M"),
        f"T{line.transfer_id}",
        label[:34],
        other[:28],
        money(line.amount_minor, cur),
        money(line.balance_minor, cur),
    ]


class _Page:
    """Rows onto the canvas; a new page (column titles again, its number) when one is full."""

    def __init__(self, canvas: Any, height: float, header: list[str], made: str) -> None:
        self.canvas, self.height, self.header = canvas, height, header
        self.regular, self.bold = _fonts()
        self.footer = _("Alatau Bank · statement made %(when)s · page %(page)s")
        self.made = made
        self.rows_left, self.y, self.number = 0, 0.0, 0

    def _new_page(self) -> None:
        draw = self.canvas
        if self.number:
            draw.showPage()
        self.number += 1
        self.y = self.height - 50
        if self.number == 1:
            draw.setFont(self.bold, 14)
            draw.drawString(COLUMNS_X[0], self.y, self.header[0])
            draw.setFont(self.regular, 9)
            for text in self.header[1:]:
                self.y -= 14
                draw.drawString(COLUMNS_X[0], self.y, text)
            self.y -= 10
        self.y -= 16
        draw.setFont(self.bold, 7.5)
        titles = [_("Date"), _("Ref."), _("Description"), _("Counterparty"), _("Amount")]
        self._cells([*titles, _("Balance")])
        draw.setFont(self.regular, 7.5)
        footer = self.footer % {"when": self.made, "page": self.number}
        draw.drawString(COLUMNS_X[0], 20, footer)
        self.rows_left = int((self.y - 40) // ROW_HEIGHT)

    def _cells(self, cells: list[str]) -> None:
        draw = self.canvas
        for x, text in zip(COLUMNS_X[:4], cells[:4], strict=True):
            draw.drawString(x, self.y, text)
        draw.drawRightString(COLUMNS_X[4], self.y, cells[4])
        draw.drawRightString(COLUMNS_X[5], self.y, cells[5])

    def row(self, cells: list[str]) -> None:
        if self.rows_left <= 0:
            self._new_page()
        self.y -= ROW_HEIGHT
        self._cells(cells)
        self.rows_left -= 1
