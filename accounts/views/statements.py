"""Account statements: a date range with a running balance, as a page, CSV or PDF."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Generator

from django.db import DEFAULT_DB_ALIAS
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from accounts.forms import StatementForm
from accounts.models import Account
from accounts.selectors import StreamLine, account_statement, account_statement_stream
from accounts.templatetags.bank import movement_label
from accounts.views.common import current_user, customer_required
from accounts.views.statement_pdf import statement_pdf_response
from bank.db_router import read_alias
from bank.money import format_amount

PAGE_LINES = 500
# Downloads stream chunk after chunk (memory stays one chunk), up to this many lines.
DOWNLOAD_LINES_MAX = 1_000_000
CSV_ROWS_PER_WRITE = 500


def _window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return begin, finish


@customer_required
def statement(request: HttpRequest) -> HttpResponseBase:
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
        # Downloads may lag: a replica serves them, unless this customer just wrote.
        using = read_alias(user=current_user(request))
        if fmt == "csv":
            return _csv(account, window, start, end, using)
        if fmt == "pdf":
            return statement_pdf_response(
                account=account, window=window, start=start, end=end,
                user=current_user(request), filename=_filename(account, start, end, "pdf"),
                lines_max=DOWNLOAD_LINES_MAX, using=using,
            )  # fmt: skip
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


def _filename(account: Account, start: dt.date, end: dt.date, ext: str) -> str:
    return f"alatau-{account.number}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"


class _Echo:
    """A file-like sink for ``csv.writer`` that hands each row back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv(
    account: Account, window: tuple[dt.datetime, dt.datetime], start: dt.date, end: dt.date,
    using: str = DEFAULT_DB_ALIAS,
) -> StreamingHttpResponse:  # fmt: skip
    response = StreamingHttpResponse(
        _csv_rows(account, window, using), content_type="text/csv; charset=utf-8"
    )
    name = _filename(account, start, end, "csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _csv_rows(
    account: Account, window: tuple[dt.datetime, dt.datetime], using: str = DEFAULT_DB_ALIAS
) -> Generator[str, None, None]:
    """Stream the CSV: header and opening balance first, then lines a chunk at a time."""
    cur = account.currency
    writer = csv.writer(_Echo())
    for stream in account_statement_stream(
        account=account, start=window[0], end=window[1], lines_max=DOWNLOAD_LINES_MAX,
        using=using,
    ):  # fmt: skip
        yield writer.writerow(["date", "reference", "description", "amount", "currency", "balance"])
        yield writer.writerow(
            ["", "", "Opening balance", "", cur, format_amount(stream.opening_minor, cur)]
        )
        closing, count, rows = stream.opening_minor, 0, []
        for line in stream.lines:
            rows.append(
                writer.writerow(
                    [
                        timezone.localtime(line.created_at).isoformat(timespec="seconds"),
                        f"T{line.transfer_id}",
                        _csv_safe(stream_label(line)),
                        format_amount(line.amount_minor, cur),
                        cur,
                        format_amount(line.balance_minor, cur),
                    ]
                )
            )
            closing, count = line.balance_minor, count + 1
            if len(rows) >= CSV_ROWS_PER_WRITE:
                yield "".join(rows)
                rows = []
        yield "".join(rows)
        if count >= DOWNLOAD_LINES_MAX:
            yield writer.writerow(["", "", f"Cut at {DOWNLOAD_LINES_MAX} lines", "", cur, ""])
        yield writer.writerow(["", "", "Closing balance", "", cur, format_amount(closing, cur)])


def stream_label(line: StreamLine) -> str:
    label = movement_label(line)
    return f"{label}: {line.memo}" if line.memo else label


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from running a description as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
