"""The ledger under concurrency: many connections at once, real PostgreSQL locks."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from django.core.management import call_command

from accounts.errors import InsufficientFunds
from accounts.models import Account, Transfer
from accounts.selectors import ledger_check
from accounts.services import hold_create, transfer_create
from tests.conftest import run_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_200_threads_drain_an_account_of_100_exactly(
    funded_account: Callable[..., Account],
) -> None:
    source, sink = funded_account(100), funded_account()

    def spend(i: int) -> object:
        return transfer_create(
            debit_account_id=source.pk,
            credit_account_id=sink.pk,
            amount_minor=1,
            code="internal",
            idempotency_key=f"spend-{i}",
        )

    results = run_threads(200, spend)
    ok = [r for r in results if isinstance(r, Transfer)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(ok) == 100, [r for r in results if not isinstance(r, Transfer | InsufficientFunds)]
    assert len(refused) == 100
    source.refresh_from_db()
    assert source.available_minor == 0
    assert ledger_check() == []
    call_command("ledger_check")


def test_same_key_from_20_threads_moves_money_once(
    funded_account: Callable[..., Account], make_user
) -> None:
    source, sink = funded_account(1000), funded_account()
    user = make_user()

    def pay(_: int) -> object:
        return transfer_create(
            debit_account_id=source.pk,
            credit_account_id=sink.pk,
            amount_minor=25,
            code="internal",
            initiator=user,
            idempotency_key="one-payment",
        )

    results = run_threads(20, pay)
    assert all(isinstance(r, Transfer) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Transfer.objects.filter(idempotency_key="one-payment").count() == 1
    sink.refresh_from_db()
    assert sink.posted_minor == 25


def test_opposite_directions_never_deadlock(funded_account: Callable[..., Account]) -> None:
    a, b = funded_account(10_000), funded_account(10_000)

    def shuffle(i: int) -> object:
        debit, credit = (a, b) if i % 2 else (b, a)
        return transfer_create(
            debit_account_id=debit.pk,
            credit_account_id=credit.pk,
            amount_minor=random.randint(1, 5),
            code="internal",
        )

    results = run_threads(60, shuffle)
    errors = [r for r in results if not isinstance(r, Transfer)]
    assert errors == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.posted_minor + b.posted_minor == 20_000
    assert ledger_check() == []


def test_holds_and_transfers_race_without_overdraft(funded_account: Callable[..., Account]) -> None:
    source, sink = funded_account(50), funded_account()

    def act(i: int) -> object:
        if i % 2:
            return hold_create(account_id=source.pk, amount_minor=1, code="withdrawal")
        return transfer_create(
            debit_account_id=source.pk, credit_account_id=sink.pk, amount_minor=1, code="internal"
        )

    results = run_threads(100, act)
    succeeded = [r for r in results if not isinstance(r, Exception)]
    assert len(succeeded) == 50
    assert all(isinstance(r, InsufficientFunds) for r in results if isinstance(r, Exception))
    source.refresh_from_db()
    assert source.available_minor == 0
    assert ledger_check() == []
