"""The PDF statement, drawn page by page from the streamed lines.

Platypus (a ``Table`` of every line) holds every row as Python objects and lays the
whole table out at once: a 100,000-line statement took gigabytes and minutes. Here
each page is drawn on the canvas as its lines arrive from the database and then
left behind, so memory holds one chunk of lines and the finished page streams
(reportlab keeps those until ``save``). The file is written to a spooled temporary
file (in memory while small, on disk beyond) and streamed out in blocks.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from django.db import DEFAULT_DB_ALIAS
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import StatementStream, StreamLine, account_statement_stream
from accounts.templatetags.bank import movement_label
from bank.money import format_amount

SPOOL_MAX_BYTES = 8 * 1024 * 1024
READ_BLOCK_BYTES = 64 * 1024
COLUMNS_X = (40, 120, 165, 440, 555)  # date, ref, description, amount (right), balance (right)


def statement_pdf_response(
    *,
    account: Account,
    window: tuple[dt.datetime, dt.datetime],
    start: dt.date,
    end: dt.date,
    user: Any,
    filename: str,
    lines_max: int,
    using: str = DEFAULT_DB_ALIAS,
) -> StreamingHttpResponse:
    """Return the statement as a streamed PDF download."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115
    for stream in account_statement_stream(
        account=account, start=window[0], end=window[1], lines_max=lines_max, using=using
    ):
        _draw(spool, stream, start, end, user, lines_max)
    spool.seek(0)
    response = StreamingHttpResponse(_blocks(spool), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _blocks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while block := spool.read(READ_BLOCK_BYTES):
            yield block


def _text(value: str) -> str:
    # The standard PDF fonts carry Latin-1 only; anything else shows as "?".
    return value.encode("latin-1", "replace").decode("latin-1")


def _draw(
    out: IO[bytes], stream: StatementStream, start: dt.date, end: dt.date, user: Any, lines_max: int
) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    cur = stream.account.currency
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle("Alatau Bank statement")
    canvas.setAuthor("Alatau Bank")
    header = [
        "Alatau Bank - account statement",
        f"Customer: {user.email}",
        f"Account: {stream.account.number_formatted} ({cur}). Amounts in {cur}.",
        f"Period: {start:%d.%m.%Y} to {end:%d.%m.%Y}",
    ]
    page = _Page(canvas, A4[1], header)
    page.row(["", "", "Opening balance", "", format_amount(stream.opening_minor, cur)])
    closing, count = stream.opening_minor, 0
    for line in stream.lines:
        page.row(_cells(line, cur))
        closing, count = line.balance_minor, count + 1
    if count >= lines_max:
        page.row(["", "", f"The statement was cut at {lines_max} lines.", "", ""])
    page.row(["", "", "Closing balance", "", format_amount(closing, cur)])
    canvas.showPage()
    canvas.save()


def _cells(line: StreamLine, cur: str) -> list[str]:
    label = movement_label(line)
    label = f"{label}: {line.memo}" if line.memo else label
    return [
        timezone.localtime(line.created_at).strftime("%d.%m.%Y %H:%M"),
        f"T{line.transfer_id}",
        label[:48],
        format_amount(line.amount_minor, cur),
        format_amount(line.balance_minor, cur),
    ]


class _Page:
    """Rows onto the canvas, a new page (with the column titles again) when one is full."""

    def __init__(self, canvas: Any, height: float, header: list[str]) -> None:
        self.canvas, self.height, self.header = canvas, height, header
        self.rows_left = 0
        self.y = 0.0
        self.number = 0

    def _new_page(self) -> None:
        if self.number:
            self.canvas.showPage()
        self.number += 1
        self.y = self.height - 50
        if self.number == 1:
            self.canvas.setFont("Helvetica-Bold", 14)
            self.canvas.drawString(COLUMNS_X[0], self.y, _text(self.header[0]))
            self.canvas.setFont("Helvetica", 9)
            for text in self.header[1:]:
                self.y -= 14
                self.canvas.drawString(COLUMNS_X[0], self.y, _text(text))
            self.y -= 10
        self.y -= 16
        self.canvas.setFont("Helvetica-Bold", 8)
        self._cells(["Date", "Ref.", "Description", "Amount", "Balance"])
        self.canvas.setFont("Helvetica", 8)
        self.canvas.drawRightString(COLUMNS_X[4], 30, f"page {self.number}")
        self.rows_left = int((self.y - 50) // 13)

    def _cells(self, cells: list[str]) -> None:
        draw = self.canvas
        for x, text in zip(COLUMNS_X[:3], cells[:3], strict=True):
            draw.drawString(x, self.y, _text(text))
        draw.drawRightString(COLUMNS_X[3], self.y, cells[3])
        draw.drawRightString(COLUMNS_X[4], self.y, cells[4])

    def row(self, cells: list[str]) -> None:
        if self.rows_left <= 0:
            self._new_page()
        self.y -= 13
        self._cells(cells)
        self.rows_left -= 1
