"""The PDF statement: the customer's name, page numbers, the time it was made, in their language.

Streamed: the file's header goes out before the database is read, and each page as soon
as it is full (``banking/pdf_stream.py`` writes the PDF objects as it goes; the fonts
and the cross-reference table come at the end). Only the current chunk of lines and
the current page are in Python memory, whatever the length. Each line is six strings
drawn straight onto the page (no platypus ``Table`` or ``Paragraph`` objects).

The text is set in DejaVu Sans (Debian's fonts-dejavu-core, installed by
``scripts/ensure-system-packages.sh``), which has the Cyrillic and Kazakh letters
(the nine letters of the Kazakh alphabet beyond Russian's) that the PDF core fonts lack.
The reads may lag: they run in ``lagging_reads`` (the replica unless this customer just
moved money), opened again inside the body because the body runs after the view.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Account, Identity
from accounts.selectors import StatementStream, StreamLine, account_statement_stream
from banking.pdf_stream import HEADER, StreamedPdf
from banking.services.counterparty import StreamCounterparties
from banking.statement_text import StatementText
from core.db_reads import lagging_reads

FONT = "AlatauSans"
FONT_BOLD = "AlatauSans-Bold"
FONT_DIR_DEFAULT = "/usr/share/fonts/truetype/dejavu"
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
    """Return the statement as a PDF download streamed page by page."""
    body = _pdf_body(account, window, (start, end), user, lines_max, translation.get_language())
    response = StreamingHttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _pdf_body(
    account: Account, window: tuple[dt.datetime, dt.datetime], period: tuple[dt.date, dt.date],
    user: Any, lines_max: int, language: str | None,
) -> Iterator[bytes]:  # fmt: skip
    # Runs while the response is sent, after the request's middleware: the language is
    # set again, and the lagging-reads block opened here.
    from reportlab.lib.pagesizes import A4

    # The file's first bytes go out before the fonts are read (two TrueType files parsed
    # in Python, the first time in a process) and before the database is.
    yield HEADER
    with translation.override(language), lagging_reads(user=user) as using:
        regular, bold = _fonts()
        pdf = StreamedPdf(
            fonts=[regular, bold], page_size=A4, header_sent=True,
            title=_("Alatau Bank statement"), author=_("Alatau Bank"),
        )  # fmt: skip
        try:
            for stream in account_statement_stream(
                account=account, start=window[0], end=window[1], lines_max=lines_max,
                using=using,
            ):  # fmt: skip
                name = _customer_name(user, using)
                yield from _draw(pdf, stream, period, name, lines_max)
            yield pdf.finish()
        finally:
            pdf.close()


def _customer_name(user: Any, using: str) -> str:
    identity = Identity.objects.using(using).filter(user=user).exclude(full_name="").first()
    return identity.full_name if identity is not None else str(user.email)


def _draw(
    pdf: StreamedPdf, stream: StatementStream, period: tuple[dt.date, dt.date], name: str,
    lines_max: int,
) -> Iterator[bytes]:  # fmt: skip
    """Draw the statement; yield the pages finished after each chunk of lines."""
    cur = stream.account.currency
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
    page = _Page(pdf, pdf.height, header, made)
    text, counterparties = StatementText(cur), StreamCounterparties()
    page.row(["", "", _("Opening balance"), "", "", text.money(stream.opening_minor)])
    closing, count = stream.opening_minor, 0
    while chunk := list(itertools.islice(stream.lines, LINES_PER_LOOKUP)):
        for line, other in zip(chunk, counterparties(chunk), strict=True):
            page.row(_cells(text, line, other))
        closing, count = chunk[-1].balance_minor, count + len(chunk)
        yield pdf.take()
    if count >= lines_max:
        cut = _("The statement was cut at %(lines)s lines.") % {"lines": lines_max}
        page.row(["", "", cut, "", "", ""])
    page.row(["", "", _("Closing balance"), "", "", text.money(closing)])


def _cells(text: StatementText, line: StreamLine, other: str) -> list[str]:
    label = text.label(line)
    if line.memo and line.code in ("internal", "payment", "refund"):
        label = f"{label}: {line.memo}"
    return [
        text.local(line.created_at).strftime("%d.%m.%Y %H:%M"),
        f"T{line.transfer_id}",
        label[:34],
        other[:28],
        text.money(line.amount_minor),
        text.money(line.balance_minor),
    ]


class _Page:
    """Rows onto the canvas; a new page (column titles again, its number) when one is full."""

    def __init__(self, pdf: StreamedPdf, height: float, header: list[str], made: str) -> None:
        self.pdf, self.height, self.header = pdf, height, header
        self.regular, self.bold = _fonts()
        self.footer = _("Alatau Bank · statement made %(when)s · page %(page)s")
        self.made = made
        self.rows_left, self.y, self.number = 0, 0.0, 0

    def _new_page(self) -> None:
        draw = self.pdf
        if self.number:
            draw.page_end()
        self.number += 1
        self.y = self.height - 50
        if self.number == 1:
            draw.set_font(self.bold, 14)
            draw.draw(COLUMNS_X[0], self.y, self.header[0])
            draw.set_font(self.regular, 9)
            for text in self.header[1:]:
                self.y -= 14
                draw.draw(COLUMNS_X[0], self.y, text)
            self.y -= 10
        self.y -= 16
        draw.set_font(self.bold, 7.5)
        titles = [_("Date"), _("Ref."), _("Description"), _("Counterparty"), _("Amount")]
        self._cells([*titles, _("Balance")])
        draw.set_font(self.regular, 7.5)
        footer = self.footer % {"when": self.made, "page": self.number}
        draw.draw(COLUMNS_X[0], 20, footer)
        self.rows_left = int((self.y - 40) // ROW_HEIGHT)

    def _cells(self, cells: list[str]) -> None:
        draw = self.pdf
        for x, text in zip(COLUMNS_X[:4], cells[:4], strict=True):
            draw.draw(x, self.y, text)
        draw.draw_right(COLUMNS_X[4], self.y, cells[4])
        draw.draw_right(COLUMNS_X[5], self.y, cells[5])

    def row(self, cells: list[str]) -> None:
        if self.rows_left <= 0:
            self._new_page()
        self.y -= ROW_HEIGHT
        self._cells(cells)
        self.rows_left -= 1
