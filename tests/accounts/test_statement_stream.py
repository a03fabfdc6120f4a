"""``account_statement_stream``: one query for the lines, whatever their number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Transfer
from accounts.selectors import account_statement_stream
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create


def _ledger(account: Account) -> list[tuple[int, int, int]]:
    rows, balance = [], 0
    for t in Transfer.objects.filter(Q(debit_account=account) | Q(credit_account=account)).order_by(
        "pk"
    ):
        signed = t.amount_minor if t.credit_account_id == account.pk else -t.amount_minor
        balance += signed
        rows.append((t.pk, signed, balance))
    return rows


def _two(funded_account: Callable[..., Account]) -> tuple[Account, Account]:
    mine, other = funded_account(900_000), funded_account(900_000)
    transfer_batch_create(
        transfers=[
            TransferSpec(mine.pk, other.pk, 100 + i, "internal", memo=f"m{i}")
            if i % 3
            else TransferSpec(other.pk, mine.pk, 200 + i, "internal")
            for i in range(25)
        ]
    )
    return mine, other


def test_lines_come_from_one_query_in_chunks(funded_account: Callable[..., Account]) -> None:
    mine, _other = _two(funded_account)
    for stream in account_statement_stream(account=mine, chunk=10):
        assert stream.opening_minor == 0
        with CaptureQueriesContext(connection) as queries:
            lines = list(stream.lines)
    assert [(x.transfer_id, x.amount_minor, x.balance_minor) for x in lines] == _ledger(mine)
    assert len(lines) == 26  # the funding and 25 transfers, in three chunks of 10
    assert len(queries) == 1, [q["sql"] for q in queries]  # one cursor, fetched from
    assert lines[2].memo == "m1" and lines[2].code == "internal"  # i = 1


def test_the_window_and_the_line_limit_hold(funded_account: Callable[..., Account]) -> None:
    mine, other = _two(funded_account)
    later = timezone.now() + dt.timedelta(hours=1)
    for stream in account_statement_stream(account=mine, start=later):
        assert list(stream.lines) == []
    for stream in account_statement_stream(account=mine, end=later - dt.timedelta(days=1)):
        assert list(stream.lines) == []
    for stream in account_statement_stream(account=mine, lines_max=5, chunk=2):
        five = list(stream.lines)
    assert [x.transfer_id for x in five] == [t for t, _s, _b in _ledger(mine)[:5]]
    assert {x.other_account_id for x in five[1:]} == {other.pk}


def test_a_stream_left_early_closes_its_cursor(funded_account: Callable[..., Account]) -> None:
    mine, _other = _two(funded_account)
    for stream in account_statement_stream(account=mine, chunk=5):
        kept = stream.lines  # read in part, still referenced after the loop
        next(kept)
    # The loop ended normally: the stream's transaction (a savepoint here) was released,
    # which, unlike a rollback, leaves a cursor open.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone() == (0,)
