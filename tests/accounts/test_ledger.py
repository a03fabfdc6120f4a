"""Ledger services: transfers, holds, reversals, idempotency and bad inputs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.errors import (
    AccountFrozen,
    AccountNotFound,
    AlreadyReversed,
    CurrencyMismatch,
    InsufficientFunds,
    SameAccount,
)
from accounts.models import Account, Hold, HoldStatus, Transfer
from accounts.selectors import account_statement, ledger_check, trial_balance
from accounts.services import (
    account_freeze,
    hold_create,
    hold_expire_due,
    hold_post,
    hold_void,
    system_account,
    transfer_create,
    transfer_reverse,
)
from accounts.services.holds import Leg
from audit.models import AuditEvent
from core.errors import IdempotencyConflict, InvalidState, ValidationFailed

pytestmark = pytest.mark.django_db


def _move(debit: Account, credit: Account, amount_minor: int, **extra: Any) -> Transfer:
    """An internal transfer between two test accounts."""
    return transfer_create(
        debit_account_id=debit.pk,
        credit_account_id=credit.pk,
        amount_minor=amount_minor,
        code="internal",
        **extra,
    )


def _counts() -> tuple[int, int, int]:
    return Transfer.objects.count(), Hold.objects.count(), AuditEvent.objects.count()


def test_transfer_moves_money_and_audits(funded_account: Callable[..., Account]) -> None:
    a, b = funded_account(1000), funded_account()
    events = AuditEvent.objects.count()
    transfer = transfer_create(
        debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=400, code="internal"
    )
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.posted_minor, b.posted_minor) == (600, 400)
    assert transfer.currency == "BTC"
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.first().action == "transfer.create"  # type: ignore[union-attr]
    assert ledger_check() == []


def test_transfer_query_count(
    funded_account: Callable[..., Account], django_assert_max_num_queries
) -> None:
    a, b = funded_account(1000), funded_account()
    with django_assert_max_num_queries(8):
        _move(a, b, 1, idempotency_key="q-1")


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (0, ValidationFailed),
        (-5, ValidationFailed),
        (21_000_000 * 10**8 + 1, ValidationFailed),
        (1001, InsufficientFunds),
    ],
)
def test_bad_amounts_write_nothing(
    funded_account: Callable[..., Account], amount: int, error: type[Exception]
) -> None:
    a, b = funded_account(1000), funded_account()
    before = _counts()
    with pytest.raises(error):
        transfer_create(
            debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=amount, code="internal"
        )
    assert _counts() == before
    a.refresh_from_db()
    assert a.posted_minor == 1000


def test_bad_pairs_write_nothing(funded_account: Callable[..., Account]) -> None:
    btc, kzt, other = funded_account(1000), funded_account(1000, "KZT"), funded_account()
    before = _counts()
    cases: list[tuple[dict[str, object], type[Exception]]] = [
        ({"debit_account_id": btc.pk, "credit_account_id": kzt.pk}, CurrencyMismatch),
        ({"debit_account_id": btc.pk, "credit_account_id": btc.pk}, SameAccount),
        ({"debit_account_id": btc.pk, "credit_account_id": 10**9}, AccountNotFound),
        ({"debit_account_id": 10**9, "credit_account_id": other.pk}, AccountNotFound),
    ]
    for kwargs, error in cases:
        with pytest.raises(error):
            transfer_create(amount_minor=1, code="internal", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        transfer_create(
            debit_account_id=btc.pk, credit_account_id=other.pk, amount_minor=1, code="gift"
        )
    with pytest.raises(ValidationFailed):
        _move(btc, other, 1, idempotency_key="")
    assert _counts() == before


def test_frozen_account_cannot_be_debited_by_customer(
    funded_account: Callable[..., Account], make_user
) -> None:
    a, b = funded_account(1000), funded_account()
    account_freeze(account_id=a.pk, actor=make_user(is_staff=True), reason="court order")
    with pytest.raises(AccountFrozen):
        transfer_create(
            debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=1, code="internal"
        )
    with pytest.raises(AccountFrozen):
        hold_create(account_id=a.pk, amount_minor=1, code="withdrawal")
    # Credits still arrive, and the bank itself may still debit (e.g. a reversal).
    payer = funded_account(10)
    transfer_create(
        debit_account_id=payer.pk, credit_account_id=a.pk, amount_minor=10, code="internal"
    )
    transfer_create(
        debit_account_id=a.pk,
        credit_account_id=b.pk,
        amount_minor=1,
        code="adjustment",
        allow_frozen_debit=True,
    )


def test_idempotency_replays_and_conflicts(
    funded_account: Callable[..., Account], make_user
) -> None:
    a, b = funded_account(1000), funded_account()
    user = make_user()
    first = _move(a, b, 10, initiator=user, idempotency_key="pay-1")
    again = _move(a, b, 10, initiator=user, idempotency_key="pay-1")
    assert again.pk == first.pk
    with pytest.raises(IdempotencyConflict):
        _move(a, b, 11, initiator=user, idempotency_key="pay-1")
    # The key is scoped per initiator: another initiator may use the same text.
    other = _move(a, b, 10, initiator=make_user(), idempotency_key="pay-1")
    assert other.pk != first.pk
    a.refresh_from_db()
    assert a.posted_minor == 980


def test_hold_post_partial_void_and_repeat(funded_account: Callable[..., Account]) -> None:
    a = funded_account(1000)
    hot = system_account("custody_hot", "BTC")
    fees = system_account("fees", "BTC")
    hold = hold_create(account_id=a.pk, amount_minor=600, code="withdrawal")
    a.refresh_from_db()
    assert (a.posted_minor, a.held_minor, a.available_minor) == (1000, 600, 400)
    with pytest.raises(InsufficientFunds):
        hold_create(account_id=a.pk, amount_minor=401, code="withdrawal")
    posted = hold_post(
        hold_id=hold.pk, legs=[Leg(hot.pk, 500, "withdrawal"), Leg(fees.pk, 50, "fee")]
    )
    assert (posted.status, posted.posted_minor) == (HoldStatus.POSTED, 550)
    assert hold_post(hold_id=hold.pk, legs=[Leg(hot.pk, 1, "withdrawal")]).posted_minor == 550
    with pytest.raises(InvalidState):
        hold_void(hold_id=hold.pk)
    a.refresh_from_db()
    assert (a.posted_minor, a.held_minor) == (450, 0)
    assert Transfer.objects.filter(group_id=str(posted.group_id)).count() == 2

    second = hold_create(account_id=a.pk, amount_minor=100, code="withdrawal")
    with pytest.raises(ValidationFailed):
        hold_post(hold_id=second.pk, legs=[Leg(hot.pk, 101, "withdrawal")])
    assert hold_void(hold_id=second.pk).status == HoldStatus.VOIDED
    assert hold_void(hold_id=second.pk).status == HoldStatus.VOIDED
    with pytest.raises(InvalidState):
        hold_post(hold_id=second.pk, legs=[Leg(hot.pk, 1, "withdrawal")])
    a.refresh_from_db()
    assert a.held_minor == 0
    assert ledger_check() == []


def test_hold_expiry(funded_account: Callable[..., Account]) -> None:
    a = funded_account(1000)
    past = timezone.now() - timedelta(seconds=1)
    expiring = hold_create(account_id=a.pk, amount_minor=300, code="payment", expires_at=past)
    keeping = hold_create(
        account_id=a.pk, amount_minor=200, code="payment", expires_at=past + timedelta(hours=1)
    )
    assert hold_expire_due() == 1
    expiring.refresh_from_db()
    keeping.refresh_from_db()
    assert (expiring.status, keeping.status) == (HoldStatus.EXPIRED, HoldStatus.OPEN)
    a.refresh_from_db()
    assert a.held_minor == 200


def test_reversal_once(funded_account: Callable[..., Account], make_user) -> None:
    a, b = funded_account(1000), funded_account()
    transfer = transfer_create(
        debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=70, code="internal"
    )
    staff = make_user(is_staff=True)
    with pytest.raises(ValidationFailed):
        transfer_reverse(transfer_id=transfer.pk, actor=staff, reason=" ")
    reversal = transfer_reverse(transfer_id=transfer.pk, actor=staff, reason="sent in error")
    assert (reversal.debit_account_id, reversal.credit_account_id) == (b.pk, a.pk)
    with pytest.raises(AlreadyReversed):
        transfer_reverse(transfer_id=transfer.pk, actor=staff, reason="again")
    a.refresh_from_db()
    assert a.posted_minor == 1000


def test_statement_running_balance(funded_account: Callable[..., Account]) -> None:
    a, b = funded_account(1000), funded_account()
    for amount in (100, 200, 300):
        transfer_create(
            debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=amount, code="internal"
        )
    statement = account_statement(account=a, limit=2)
    assert [line.balance_minor for line in statement.lines] == [1000, 900]
    assert statement.has_more
    rest = account_statement(account=a, after_id=statement.lines[-1].transfer.pk)
    assert [line.balance_minor for line in rest.lines] == [700, 400]
    assert rest.opening_minor == 900
    sums: dict[str, int] = {}
    for row in trial_balance():
        sums[row.currency] = sums.get(row.currency, 0) + row.posted_minor
    assert sums == {"BTC": 0, "KZT": 0}


@pytest.mark.django_db(transaction=True)
def test_trigger_rejects_update_and_delete(funded_account: Callable[..., Account]) -> None:
    a, b = funded_account(1000), funded_account()
    transfer = transfer_create(
        debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=5, code="internal"
    )
    for sql in (
        "UPDATE accounts_transfer SET amount_minor = 1 WHERE id = %s",
        "DELETE FROM accounts_transfer WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [transfer.pk])
    with pytest.raises(DatabaseError, match="immutable"):
        Transfer.objects.filter(pk=transfer.pk).update(memo="edited")
    assert Transfer.objects.get(pk=transfer.pk).amount_minor == 5


def test_ledger_check_reports_a_breach(funded_account: Callable[..., Account]) -> None:
    a = funded_account(1000)
    # Simulate corruption that bypasses the services: a balance nobody transferred.
    Account.objects.filter(pk=a.pk).update(posted_minor=1001)
    breaches = {b.check for b in ledger_check()}
    assert "currency sums to zero" in breaches
    assert "posted equals the sum of transfers" in breaches


def test_transfer_inside_outer_transaction_replays_after_key_race(
    funded_account: Callable[..., Account], make_user
) -> None:
    a, b, c = funded_account(1000), funded_account(), funded_account()
    user = make_user()
    with transaction.atomic():
        first = _move(a, b, 5, initiator=user, idempotency_key="nested")
        with pytest.raises(IdempotencyConflict):
            _move(a, c, 5, initiator=user, idempotency_key="nested")
        # The outer transaction is still usable after the conflict.
        again = _move(a, b, 5, initiator=user, idempotency_key="nested")
    assert again.pk == first.pk
    assert again.currency == "BTC"
    assert ledger_check() == []


def test_account_numbers_are_valid_kazakh_ibans(funded_account: Callable[..., Account]) -> None:
    from schwifty import IBAN

    numbers = {funded_account().number for _ in range(5)}
    assert len(numbers) == 5
    for number in numbers:
        iban = IBAN(number)  # raises on a bad checksum or length
        assert (iban.country_code, iban.bank_code, len(number)) == ("KZ", "970", 20)
        # ISO 13616 mod 97 by hand: move the first four characters to the end.
        digits = "".join(str(int(ch, 36)) for ch in number[4:] + number[:4])
        assert int(digits) % 97 == 1


def test_hold_bad_inputs_write_nothing(funded_account: Callable[..., Account]) -> None:
    a, kzt = funded_account(1000), funded_account(1000, "KZT")
    before = _counts()
    for kwargs, error in [
        ({"account_id": a.pk, "amount_minor": 0}, ValidationFailed),
        ({"account_id": a.pk, "amount_minor": -1}, ValidationFailed),
        ({"account_id": a.pk, "amount_minor": 1001}, InsufficientFunds),
        ({"account_id": 10**9, "amount_minor": 1}, AccountNotFound),
    ]:
        with pytest.raises(error):
            hold_create(code="withdrawal", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        hold_create(account_id=a.pk, amount_minor=1, code="bogus")
    assert _counts() == before
    hold = hold_create(account_id=a.pk, amount_minor=100, code="withdrawal")
    for legs, error in [
        ([], ValidationFailed),
        ([Leg(kzt.pk, 10, "withdrawal")], CurrencyMismatch),
        ([Leg(a.pk, 10, "withdrawal")], SameAccount),
        ([Leg(system_account("fees", "BTC").pk, 0, "fee")], ValidationFailed),
    ]:
        with pytest.raises(error):
            hold_post(hold_id=hold.pk, legs=legs)
    hold.refresh_from_db()
    a.refresh_from_db()
    assert (hold.status, a.held_minor, a.posted_minor) == (HoldStatus.OPEN, 100, 1000)
    assert ledger_check() == []
