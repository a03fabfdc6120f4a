"""Account statements: a date range with a running balance, as a page, CSV or PDF."""

from __future__ import annotations

import csv
import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import current_user, customer_required
from accounts.models import Account
from accounts.selectors import Statement, StatementLine, account_statement
from banking.forms import StatementForm
from banking.services.counterparty import statement_counterparties
from banking.templatetags.bank import movement_label
from banking.views.statement_pdf import statement_pdf_response
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
            full = _full_statement(account, *window)
            return statement_pdf_response(
                full, start, end, current_user(request), _filename(full, start, end, "pdf")
            )
        result = account_statement(
            account=account, start=window[0], end=window[1], limit=PAGE_LINES
        )
    elif params is not None and "account" in form.errors:
        # Another customer's account id (or none at all): nothing to show.
        raise Http404("No such account")
    lines = []
    if result is not None:
        names = statement_counterparties(account=result.account, lines=result.lines)
        lines = list(zip(result.lines, names, strict=True))
    return render(
        request,
        "accounts/statement.html",
        {"form": form, "statement": result, "lines": lines, "query": request.GET.urlencode()},
        status=200 if params is None or form.is_valid() else 400,
    )


def _filename(stmt: Statement, start: dt.date, end: dt.date, ext: str) -> str:
    return f"alatau-{stmt.account.number}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"


def _csv(stmt: Statement, start: dt.date, end: dt.date) -> HttpResponse:
    cur = stmt.account.currency
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(stmt, start, end, "csv")}"'
    writer = csv.writer(response)
    header = ["date", "reference", "description", "counterparty", "amount", "currency", "balance"]
    writer.writerow(header)
    opening = format_amount(stmt.opening_minor, cur)
    writer.writerow(["", "", _("Opening balance"), "", "", cur, opening])
    names = statement_counterparties(account=stmt.account, lines=stmt.lines)
    for line, name in zip(stmt.lines, names, strict=True):
        writer.writerow(
            [
                timezone.localtime(line.transfer.created_at).isoformat(timespec="seconds"),
                f"T{line.transfer.pk}",
                _csv_safe(_label(line)),
                _csv_safe(name),
                format_amount(line.amount_minor, cur),
                cur,
                format_amount(line.balance_minor, cur),
            ]
        )
    closing = format_amount(stmt.closing_minor, cur)
    writer.writerow(["", "", _("Closing balance"), "", "", cur, closing])
    return response


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from running a description as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
