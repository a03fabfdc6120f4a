"""The single transfer's SQL call is a server-side prepared statement (issue 18)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection

from accounts.models import Account
from accounts.services import transfer_create


def _prepared_ledger_calls() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%ledger_transfer(%"],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.django_db
def test_single_transfer_reuses_one_prepared_statement(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(10**11), funded_account()

    def move(amount_minor: int, key: str) -> None:
        transfer_create(debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=amount_minor,
                        code="internal", idempotency_key=key)  # fmt: skip

    move(1, "prep-1")
    after_one = _prepared_ledger_calls()
    assert after_one >= 1  # parsed and planned once, kept on this connection
    # Amounts that fit int2, int4 and int8 are still the one statement (always sent as int8).
    move(70_000, "prep-2")
    move(5 * 10**10, "prep-3")
    assert _prepared_ledger_calls() == after_one
    b.refresh_from_db()
    assert b.posted_minor == 1 + 70_000 + 5 * 10**10
