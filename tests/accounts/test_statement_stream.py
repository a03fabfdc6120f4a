"""Statements read in chunks: the same lines and balances as the paged statement."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from accounts.selectors import account_statement, account_statement_stream
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create


@pytest.fixture
def busy(funded_account: Callable[..., Account]) -> tuple[Account, Account]:
    """An account with 1 funding credit and 40 movements both ways."""
    mine, other = funded_account(10_000), funded_account(10_000)
    items = [
        TransferSpec(mine.pk, other.pk, 3 + n, "internal")
        if n % 3
        else TransferSpec(other.pk, mine.pk, 100 + n, "internal")
        for n in range(40)
    ]
    transfer_batch_create(transfers=items)
    return mine, other


@pytest.mark.django_db
def test_stream_matches_the_paged_statement_across_chunks(busy: tuple[Account, Account]) -> None:
    mine, _ = busy
    paged = account_statement(account=mine, limit=500)
    with CaptureQueriesContext(connection) as queries:
        for stream in account_statement_stream(account=mine, chunk=7):
            lines = list(stream.lines)
            assert stream.opening_minor == paged.opening_minor == 0
    assert [(x.transfer_id, x.amount_minor, x.balance_minor) for x in lines] == [
        (x.transfer.pk, x.amount_minor, x.balance_minor) for x in paged.lines
    ]
    assert len(lines) == 41
    mine.refresh_from_db()
    assert lines[-1].balance_minor == mine.posted_minor
    # 41 lines in chunks of 7: 6 full chunks and the last, plus the opening reads.
    selects = [q for q in queries.captured_queries if q["sql"].startswith("(SELECT")]
    assert len(selects) == 6
    assert len(queries.captured_queries) < 15


@pytest.mark.django_db
def test_stream_cuts_at_lines_max_and_pages_continue(busy: tuple[Account, Account]) -> None:
    mine, _ = busy
    for stream in account_statement_stream(account=mine, lines_max=10, chunk=4):
        lines = list(stream.lines)
    assert len(lines) == 10
    first = account_statement(account=mine, limit=10)
    second = account_statement(account=mine, after_id=first.lines[-1].transfer.pk, limit=10)
    assert second.opening_minor == first.closing_minor == lines[-1].balance_minor
    assert second.lines[0].transfer.pk > first.lines[-1].transfer.pk
