"""Account statements: a date range with a running balance, as a page, CSV or PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.access import current_user, customer_required
from accounts.models import Account
from accounts.selectors import Statement, StatementLine, account_statement
from banking.forms import StatementForm
from banking.templatetags.bank import movement_label
from core.money import format_amount

PAGE_LINES = 500
# Downloads fetch page after page, up to this many lines (limit everything).
DOWNLOAD_LINES_MAX = 20_000


def _window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return begin, finish


def _full_statement(account: Account, start: dt.datetime, end: dt.datetime) -> Statement:
    first = account_statement(account=account, start=start, end=end, limit=PAGE_LINES)
    lines = list(first.lines)
    page = first
    while page.has_more and len(lines) < DOWNLOAD_LINES_MAX:
        page = account_statement(
            account=account, start=start, end=end, after_id=lines[-1].transfer.pk, limit=PAGE_LINES
        )
        lines.extend(page.lines)
    closing = lines[-1].balance_minor if lines else first.opening_minor
    return Statement(account, first.opening_minor, closing, lines, page.has_more)


def _label(line: StatementLine) -> str:
    label = movement_label(line.transfer)
    return f"{label}: {line.transfer.memo}" if line.transfer.memo else label


@customer_required
def statement(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    params = request.GET if "account" in request.GET else None
    form = StatementForm(
        params,
        user=current_user(request),
        initial={"start": today.replace(day=1), "end": today},
    )
    result = None
    if params is not None and form.is_valid():
        account = form.cleaned_data["account"]
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        window = _window(start, end)
        fmt = request.GET.get("format", "")
        if fmt == "csv":
            return _csv(_full_statement(account, *window), start, end)
        if fmt == "pdf":
            return _pdf(_full_statement(account, *window), start, end, current_user(request))
        result = account_statement(
            account=account, start=window[0], end=window[1], limit=PAGE_LINES
        )
    elif params is not None and "account" in form.errors:
        # Another customer's account id (or none at all): nothing to show.
        raise Http404("No such account")
    return render(
        request,
        "accounts/statement.html",
        {"form": form, "statement": result, "query": request.GET.urlencode()},
        status=200 if params is None or form.is_valid() else 400,
    )


def _filename(stmt: Statement, start: dt.date, end: dt.date, ext: str) -> str:
    return f"alatau-{stmt.account.number}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"


def _csv(stmt: Statement, start: dt.date, end: dt.date) -> HttpResponse:
    cur = stmt.account.currency
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(stmt, start, end, "csv")}"'
    writer = csv.writer(response)
    writer.writerow(["date", "reference", "description", "amount", "currency", "balance"])
    writer.writerow(["", "", "Opening balance", "", cur, format_amount(stmt.opening_minor, cur)])
    for line in stmt.lines:
        writer.writerow(
            [
                timezone.localtime(line.transfer.created_at).isoformat(timespec="seconds"),
                f"T{line.transfer.pk}",
                _csv_safe(_label(line)),
                format_amount(line.amount_minor, cur),
                cur,
                format_amount(line.balance_minor, cur),
            ]
        )
    writer.writerow(["", "", "Closing balance", "", cur, format_amount(stmt.closing_minor, cur)])
    return response


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from running a description as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _pdf(stmt: Statement, start: dt.date, end: dt.date, user: Any) -> HttpResponse:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    cur = stmt.account.currency
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, title="Alatau Bank statement", author="Alatau Bank"
    )
    styles = getSampleStyleSheet()
    story: list[Any] = [
        Paragraph("Alatau Bank — account statement", styles["Title"]),
        Paragraph(f"Customer: {user.email}", styles["Normal"]),
        Paragraph(f"Account: {stmt.account.number_formatted} ({cur})", styles["Normal"]),
        Paragraph(f"Amounts in {cur}.", styles["Normal"]),
        Paragraph(f"Period: {start:%d.%m.%Y} to {end:%d.%m.%Y}", styles["Normal"]),
        Spacer(1, 12),
    ]
    rows: list[list[str]] = [["Date", "Ref.", "Description", "Amount", "Balance"]]
    rows.append(["", "", "Opening balance", "", format_amount(stmt.opening_minor, cur)])
    for line in stmt.lines:
        rows.append(
            [
                timezone.localtime(line.transfer.created_at).strftime("%d.%m.%Y %H:%M"),
                f"T{line.transfer.pk}",
                _label(line)[:48],
                format_amount(line.amount_minor, cur),
                format_amount(line.balance_minor, cur),
            ]
        )
    rows.append(["", "", "Closing balance", "", format_amount(stmt.closing_minor, cur)])
    table = Table(rows, repeatRows=1, colWidths=[80, 45, 170, 105, 105])
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#0b2545")),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("ALIGN", (3, 0), (4, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
            ]
        )
    )
    story.append(table)
    if stmt.has_more:
        story.append(Paragraph("The statement was cut at 20 000 lines.", styles["Italic"]))
    doc.build(story)
    response = HttpResponse(buffer.getvalue(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(stmt, start, end, "pdf")}"'
    return response
