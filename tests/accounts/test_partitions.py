"""Monthly partitions of the transfers: the migration, the global keys, guards, new months."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import Account, Transfer, TransferKey, User
from accounts.partitions import transfer_partitions_ensure
from accounts.selectors import ledger_check
from accounts.services import transfer_create, transfer_reverse
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create
from audit.chain import audit_verify
from core.errors import IdempotencyConflict

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("accounts", "0011_translated_verbose_names")
AFTER = ("accounts", "0012_partition_transfers")
JUNE = datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)  # the last second of June, UTC
JANUARY = datetime(2026, 1, 1, tzinfo=UTC)  # the first second of January


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def _migrate_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _sql(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def _relkind() -> str:
    return str(_sql("SELECT relkind FROM pg_class WHERE relname = 'accounts_transfer'")[0][0])


def _partitions() -> list[str]:
    rows = _sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'accounts_transfer'::regclass ORDER BY 1"
    )
    return [str(row[0]) for row in rows]


def _fk_targets() -> dict[str, int]:
    """How many foreign keys of other tables point at each of the two tables."""
    rows = _sql(
        "SELECT confrelid::regclass::text, count(*) FROM pg_constraint WHERE contype = 'f' "
        "AND conparentid = 0 AND confrelid::regclass::text IN (%(t)s, %(k)s) "
        "AND conrelid::regclass::text NOT IN (%(t)s, %(k)s) GROUP BY 1",
        {"t": "accounts_transfer", "k": "accounts_transferkey"},
    )
    return {str(name): int(str(n)) for name, n in rows}


def _sound_at_0012() -> bool:
    """``ledger_check`` at 0012: its foreign keys stand where 0013's guards will."""
    return all(b.check == "references checked (triggers installed)" for b in ledger_check())


def _month(when: datetime) -> str:
    return f"accounts_transfer_p{when:%Y%m}"


@contextmanager
def _dated(when: datetime) -> Iterator[None]:
    """Post as if at ``when``: the clock, and the audit partition of that month."""
    _sql("SELECT audit_partition_create(%s::date)", [when.date()])
    with mock.patch.object(timezone, "now", return_value=when):  # the clock only
        yield


def _post(a: Account, b: Account, amount: int, key: str | None = None, **kw: object) -> Transfer:
    return transfer_create(
        debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=amount,
        code="internal", idempotency_key=key, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def unpartitioned() -> Iterator[None]:
    """The ledger as it was before 0012 (plain transfer table); migrated forward afterwards."""
    _migrate(BEFORE)
    try:
        yield
    finally:
        _migrate_latest()


def test_the_migration_partitions_existing_transfers_and_keeps_keys_and_chain(
    unpartitioned: None, funded_account: Callable[..., Account], make_user: Callable[..., User]
) -> None:
    assert _relkind() == "r"
    fks_before = _fk_targets()
    assert fks_before == {"accounts_transfer": 12}  # the 13th is the transfer's own reverses
    user = make_user()
    a, b = funded_account(10_000), funded_account()
    with _dated(JUNE):
        june = _post(a, b, 100, "k-june", initiator=user)
    with _dated(JANUARY):
        january = _post(a, b, 200, "k-jan", initiator=user)
    reversal = transfer_reverse(transfer_id=january.pk, actor=user, reason="test")
    count = Transfer.objects.count()
    assert audit_verify() == []  # (ledger_check is the new schema's: it reads the key table)

    _migrate(AFTER)

    assert _relkind() == "p"
    names = _partitions()
    this_month = _month(datetime.now(UTC))
    assert {_month(JUNE), _month(JANUARY), this_month} <= set(names)
    assert len([n for n in names if n > this_month]) == 3
    placed: dict[int, str] = dict(
        _sql("SELECT id, tableoid::regclass::text FROM accounts_transfer")
    )
    assert placed[june.pk] == _month(JUNE) and placed[january.pk] == _month(JANUARY)
    assert placed[reversal.pk] == this_month
    assert Transfer.objects.count() == count == TransferKey.objects.count()
    assert _fk_targets() == {"accounts_transferkey": 12}
    assert _sound_at_0012() and audit_verify() == []

    # Keys made before the migration, months ago, still replay and still conflict.
    assert _post(a, b, 100, "k-june", initiator=user).pk == june.pk
    with pytest.raises(IdempotencyConflict):
        _post(a, b, 101, "k-june", initiator=user)
    spec = TransferSpec(debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=200,
                        code="internal", idempotency_key="k-jan", initiator=user)  # fmt: skip
    assert [t.pk for t in transfer_batch_create(transfers=[spec])] == [january.pk]
    # One reversal per transfer across months, in the database itself.
    with pytest.raises(IntegrityError, match="reverses_id"), transaction.atomic():
        _sql(
            "INSERT INTO accounts_transfer (group_id, amount_minor, currency, code, source_id,"
            " request_hash, memo, created_at, credit_account_id, debit_account_id, reverses_id)"
            " VALUES (gen_random_uuid(), 1, 'BTC', 'reversal', '', '', '', now(), %s, %s, %s)",
            [a.pk, b.pk, january.pk],
        )
    later = _post(a, b, 300, "k-after", initiator=user)  # the sequence and the chain go on
    assert later.pk > reversal.pk and _sound_at_0012() and audit_verify() == []

    _migrate(BEFORE)  # and back: the plain table around the same rows
    assert _relkind() == "r" and _fk_targets() == fks_before
    assert Transfer.objects.count() == count + 1 and audit_verify() == []
    assert _post(a, b, 100, "k-june", initiator=user).pk == june.pk


def test_a_transfer_in_a_new_month_after_its_partition_is_made(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(1_000), funded_account()
    assert transfer_partitions_ensure() == 0  # the migration made them already
    assert transfer_partitions_ensure(months_ahead=4) == 1  # one more month
    assert transfer_partitions_ensure(months_ahead=4) == 0  # idempotent
    far = (datetime.now(UTC).replace(day=1) + timedelta(days=32 * 6)).replace(day=15)
    with _dated(far):
        with pytest.raises(DatabaseError, match="no partition"), transaction.atomic():
            _post(a, b, 10, "k-far")
        assert not TransferKey.objects.filter(idempotency_key="k-far").exists()
        _sql("SELECT accounts_transfer_partition_create(%s::date)", [far.date()])
        made = _post(a, b, 10, "k-far")
    assert _sql("SELECT tableoid::regclass::text FROM accounts_transfer WHERE id = %s",
                [made.pk]) == [(_month(far),)]  # fmt: skip
    assert TransferKey.objects.get(pk=made.pk).created_at == far
    assert _post(a, b, 10, "k-far").pk == made.pk  # replayed from the key table
    assert ledger_check() == [] and audit_verify() == []


@pytest.mark.parametrize("target", ["parent", "partition", "keys"])
def test_transfers_and_keys_stay_immutable_in_every_partition(
    target: str, funded_account: Callable[..., Account]
) -> None:
    funded_account(500)
    table = {
        "parent": "accounts_transfer",
        "partition": _month(datetime.now(UTC)),
        "keys": "accounts_transferkey",
    }[target]
    for sql, match in (
        (f"UPDATE {table} SET request_hash = 'x'", "immutable"),  # noqa: S608
        (f"DELETE FROM {table}", "immutable"),  # noqa: S608
        (f"TRUNCATE {table} CASCADE", "TRUNCATE"),
    ):
        with (
            pytest.raises(DatabaseError, match=match),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL alatau.allow_truncate = 'off'")
            cursor.execute(sql)
    assert ledger_check() == []


def test_a_row_cannot_go_into_a_partition_around_the_key_table(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(500), funded_account()
    with pytest.raises(DatabaseError, match="insert through accounts_transfer"):
        _sql(
            f"INSERT INTO {_month(datetime.now(UTC))} (id, group_id, amount_minor, currency,"  # noqa: S608
            " code, source_id, request_hash, memo, created_at, credit_account_id,"
            " debit_account_id) VALUES (nextval('accounts_transfer_id_seq'), gen_random_uuid(),"
            " 1, 'BTC', 'internal', '', '', '', now(), %s, %s)",
            [b.pk, a.pk],
        )
    assert ledger_check() == []
