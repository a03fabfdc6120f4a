"""Account statements: a date range with a running balance, as a page, CSV or PDF."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.access import current_user, customer_required
from accounts.models import Account
from accounts.selectors import StreamLine, account_statement, account_statement_stream
from banking.forms import StatementForm
from banking.services.counterparty import StreamCounterparties, statement_counterparties
from banking.statement_text import StatementText
from banking.views.statement_pdf import statement_pdf_response
from core.db_reads import lagging_reads

PAGE_LINES = 500
# Downloads stream chunk after chunk (memory stays one chunk), up to this many lines.
DOWNLOAD_LINES_MAX = 1_000_000
CSV_ROWS_PER_WRITE = 1_000


def _window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return begin, finish


def chunks(lines: Iterator[StreamLine], size: int) -> Iterator[list[StreamLine]]:
    """The streamed lines in lists of ``size`` (one counterparty lookup per list)."""
    while chunk := list(itertools.islice(lines, size)):
        yield chunk


@customer_required
def statement(request: HttpRequest) -> HttpResponseBase:
    today = timezone.localdate()
    params = request.GET if "account" in request.GET else None
    form = StatementForm(
        params,
        user=current_user(request),
        initial={"start": today.replace(day=1), "end": today},
    )
    result, lines = None, []
    if params is not None and form.is_valid():
        account = form.cleaned_data["account"]
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        window = _window(start, end)
        fmt = request.GET.get("format", "")
        if fmt == "csv":
            return _csv(
                account, window, _filename(account, start, end, "csv"), current_user(request)
            )
        if fmt == "pdf":
            return statement_pdf_response(
                account=account, window=window, start=start, end=end,
                user=current_user(request), filename=_filename(account, start, end, "pdf"),
                lines_max=DOWNLOAD_LINES_MAX,
            )  # fmt: skip
        # A statement may lag: the replica serves it unless this customer just moved money.
        with lagging_reads(user=current_user(request)):
            result = account_statement(
                account=account, start=window[0], end=window[1], limit=PAGE_LINES
            )
            names = statement_counterparties(account=result.account, lines=result.lines)
            lines = list(zip(result.lines, names, strict=True))
    elif params is not None and "account" in form.errors:
        # Another customer's account id (or none at all): nothing to show.
        raise Http404("No such account")
    return render(
        request,
        "accounts/statement.html",
        {"form": form, "statement": result, "lines": lines, "query": request.GET.urlencode()},
        status=200 if params is None or form.is_valid() else 400,
    )


def _filename(account: Account, start: dt.date, end: dt.date, ext: str) -> str:
    return f"alatau-{account.number}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"


class _Echo:
    """A file-like sink for ``csv.writer`` that hands each row back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv(
    account: Account, window: tuple[dt.datetime, dt.datetime], filename: str, user: Any
) -> StreamingHttpResponse:
    """The CSV, streamed: the header and opening balance go out before any line is read."""
    language = translation.get_language()
    response = StreamingHttpResponse(
        _csv_rows(account, window, language, user), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_rows(
    account: Account, window: tuple[dt.datetime, dt.datetime], language: str | None, user: Any
) -> Iterator[str]:
    # The rows are made while the response is sent, after the request's middleware ran:
    # the request's language and the lagging-reads block are set again for them.
    with translation.override(language), lagging_reads(user=user) as using:
        yield from _csv_lines(account, window, using)


def _csv_lines(
    account: Account, window: tuple[dt.datetime, dt.datetime], using: str
) -> Iterator[str]:
    cur = account.currency
    writer = csv.writer(_Echo())
    text, counterparties = StatementText(cur), StreamCounterparties()
    for stream in account_statement_stream(
        account=account, start=window[0], end=window[1], lines_max=DOWNLOAD_LINES_MAX,
        using=using,
    ):  # fmt: skip
        header = ["date", "reference", "description", "counterparty", "amount", "currency"]
        yield writer.writerow([*header, "balance"])
        opening = text.plain(stream.opening_minor)
        yield writer.writerow(["", "", _("Opening balance"), "", "", cur, opening])
        closing, count = stream.opening_minor, 0
        for chunk in chunks(stream.lines, CSV_ROWS_PER_WRITE):
            names = counterparties(chunk)
            yield "".join(
                [
                    _csv_row(writer, text, line, name)
                    for line, name in zip(chunk, names, strict=True)
                ]
            )
            closing, count = chunk[-1].balance_minor, count + len(chunk)
        if count >= DOWNLOAD_LINES_MAX:
            cut = _("The statement was cut at %(lines)s lines.") % {"lines": DOWNLOAD_LINES_MAX}
            yield writer.writerow(["", "", cut, "", "", cur, ""])
        closing_text = text.plain(closing)
        yield writer.writerow(["", "", _("Closing balance"), "", "", cur, closing_text])


def _csv_row(writer: Any, text: StatementText, line: StreamLine, name: str) -> str:
    label = text.label(line)
    return str(
        writer.writerow(
            [
                text.local(line.created_at).isoformat(timespec="seconds"),
                f"T{line.transfer_id}",
                _csv_safe(f"{label}: {line.memo}" if line.memo else label),
                _csv_safe(name),
                text.plain(line.amount_minor),
                text.currency,
                text.plain(line.balance_minor),
            ]
        )
    )


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from running a description as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
