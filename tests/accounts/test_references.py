"""The transfers' references without row-by-row foreign keys (migration 0013).

The database itself refuses a transfer naming a missing account, any removal of an account
or change of its id, and a key row written around the transfers; ``ledger_check`` reports
what was planted with the triggers switched off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.ledger_batch_sql import LEDGER_TRANSFER_BATCH_SQL
from accounts.models import Account, Transfer, TransferKey
from accounts.selectors import ledger_check
from accounts.services import transfer_create
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create
from accounts.services.transfers import CAPS_JSON
from audit.chain import audit_verify
from core.errors import NotFound

MISSING = 9_000_000_001  # no account has this id

_INSERT = (
    "INSERT INTO accounts_transfer (group_id, amount_minor, currency, code, source_id,"
    " request_hash, memo, created_at, debit_account_id, credit_account_id)"
    " VALUES (gen_random_uuid(), %s, 'BTC', 'internal', '', '', '', now(), %s, %s)"
)


def _sql(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def _refused(sql: str, params: Any = None, match: str = "") -> None:
    """The statement fails in the database and leaves nothing behind (a savepoint)."""
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        _sql(sql, params)


def _counts() -> tuple[int, int]:
    return Transfer.objects.count(), TransferKey.objects.count()


def _breaches(check: str) -> list[str]:
    return [b.detail for b in ledger_check() if b.check == check]


@pytest.mark.django_db
@pytest.mark.parametrize("side", ["debit", "credit"])
def test_an_insert_naming_a_missing_account_is_refused_by_the_database(
    side: str, funded_account: Callable[..., Account]
) -> None:
    a, b = funded_account(1_000), funded_account()
    debit, credit = (MISSING, b.pk) if side == "debit" else (a.pk, MISSING)
    before = _counts()
    match = f"names account {MISSING}, which does not exist"
    with pytest.raises(IntegrityError, match=match), transaction.atomic():
        _sql(_INSERT, [1, debit, credit])
    # One statement of many rows (as the batch inserts): one bad row refuses them all.
    many = (
        "INSERT INTO accounts_transfer (group_id, amount_minor, currency, code, source_id,"
        " request_hash, memo, created_at, debit_account_id, credit_account_id)"
        " SELECT gen_random_uuid(), 1, 'BTC', 'internal', '', '', '', now(), d, c"
        " FROM unnest(%s::bigint[], %s::bigint[]) AS u(d, c)"
    )
    _refused(many, [[a.pk] * 50 + [debit], [b.pk] * 50 + [credit]], "does not exist")
    assert _counts() == before
    _sql(_INSERT, [1, a.pk, b.pk])  # the same insert naming two accounts goes in
    assert _counts() == (before[0] + 1, before[1] + 1)


@pytest.mark.django_db
def test_a_batch_naming_a_missing_account_is_refused_even_past_its_own_checks(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(1_000), funded_account()
    before = _counts()
    specs = [TransferSpec(a.pk, b.pk, 10, "internal", idempotency_key="ok-1"),
             TransferSpec(a.pk, MISSING, 10, "internal", idempotency_key="bad-2")]  # fmt: skip
    with pytest.raises(NotFound):  # the function's own check names the item
        transfer_batch_create(transfers=specs)
    # A version of the function that lost its account check (a bug): the database refuses.
    check = "(d.id IS NULL OR c.id IS NULL OR d.id = c.id"
    assert check in LEDGER_TRANSFER_BATCH_SQL
    broken = LEDGER_TRANSFER_BATCH_SQL.replace(check, "(d.id IS NULL OR d.id = c.id")
    now = timezone.now()
    call = (
        "SELECT * FROM ledger_transfer_batch(%s::bigint[], %s::bigint[], %s::bigint[],"
        " %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::uuid[],"
        " %s::integer[], %s::text[], %s::boolean[], %s::bigint[], %s::text[], NULL::inet,"
        " %s::timestamptz, %s::jsonb)"
    )
    args = [[a.pk, a.pk], [b.pk, MISSING], [10, 10], ["internal"] * 2, [None, None],
            ["ok-1", "bad-2"], ["h1", "h2"], ["", ""],
            ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"],
            [None, None], ["", ""], [False, False], [None, None], ["system"] * 2,
            now, CAPS_JSON]  # fmt: skip
    with pytest.raises(IntegrityError, match=f"names account {MISSING}"), transaction.atomic():
        _sql(broken)
        _sql(call, args)
    assert _counts() == before
    assert ledger_check() == [] and audit_verify() == []


@pytest.mark.django_db
def test_an_account_is_never_deleted_nor_its_id_changed(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(1_000), funded_account()
    transfer_create(debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=1, code="internal")
    unused = funded_account()  # no transfer, no hold: a foreign key would have let it go
    for account in (a, unused):
        _refused("DELETE FROM accounts_account WHERE id = %s", [account.pk], "DELETE of accounts")
        _refused(
            "UPDATE accounts_account SET id = id + 1000000 WHERE id = %s",
            [account.pk],
            "change of the id",
        )
    with pytest.raises(DatabaseError, match="DELETE of accounts"), transaction.atomic():
        Account.objects.filter(pk=unused.pk).delete()  # the ORM's own delete too
    with (
        pytest.raises(DatabaseError, match="TRUNCATE on accounts_account"),
        transaction.atomic(),
    ):
        _sql("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending: TRUNCATE wants none
        _sql("SET LOCAL alatau.allow_truncate = 'off'")
        _sql("TRUNCATE accounts_account CASCADE")
    # Every other change of an account goes on (the id named but not changed, too).
    _sql("UPDATE accounts_account SET id = id, name = 'renamed' WHERE id = %s", [unused.pk])
    assert Account.objects.get(pk=unused.pk).name == "renamed"
    assert Account.objects.filter(pk__in=[a.pk, unused.pk]).count() == 2
    assert ledger_check() == []


@pytest.mark.django_db
def test_a_key_row_cannot_be_written_around_the_transfers(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(1_000), funded_account()
    made = transfer_create(
        debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=5, code="internal"
    )
    before = _counts()
    _refused(
        "INSERT INTO accounts_transferkey (id, created_at, request_hash)"
        " VALUES (nextval('accounts_transfer_id_seq'), now(), '')",
        match="INSERT into accounts_transferkey is not allowed",
    )
    with pytest.raises(DatabaseError, match="not allowed"), transaction.atomic():
        TransferKey.objects.create(id=made.pk + 1_000, created_at=timezone.now())
    assert _counts() == before
    assert TransferKey.objects.get(pk=made.pk).created_at == made.created_at  # the fill's row


@pytest.mark.django_db
def test_ledger_check_reports_references_planted_with_the_triggers_off(
    funded_account: Callable[..., Account],
) -> None:
    a = funded_account(1_000)
    assert ledger_check() == []
    with transaction.atomic():
        # As a superuser may: triggers (and any foreign key's) do not fire for a replica.
        _sql("SET LOCAL session_replication_role = replica")
        (transfer_id,) = _sql(_INSERT + " RETURNING id", [7, a.pk, MISSING])[0]
        _sql(
            "INSERT INTO accounts_transferkey (id, created_at, request_hash)"
            " VALUES (nextval('accounts_transfer_id_seq'), %s, '') RETURNING id",
            [datetime(2025, 1, 1, tzinfo=UTC)],
        )
        _sql("SET LOCAL session_replication_role = origin")
        dangling = _breaches("every transfer names existing accounts")
        assert dangling == [repr((transfer_id, a.pk, MISSING))]
        assert len(_breaches("every transfer has its key row")) == 2  # one each way
        transaction.set_rollback(True)
    assert ledger_check() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("table", "trigger"),
    [
        ("accounts_transfer", "accounts_transfer_accounts_exist"),
        ("accounts_transferkey", "accounts_transferkey_via_transfer"),
        ("accounts_account", "accounts_account_no_delete"),
    ],
)
def test_ledger_check_reports_a_disabled_guard(table: str, trigger: str) -> None:
    assert ledger_check() == []
    with transaction.atomic():
        _sql(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        assert _breaches("references checked (triggers installed)") == [repr((table, trigger))]
        transaction.set_rollback(True)
    assert ledger_check() == []


def _constraints() -> set[str]:
    rows = _sql(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conparentid = 0"
        " AND conrelid IN ('accounts_transfer'::regclass, 'accounts_transferkey'::regclass)"
    )
    return {str(row[0]) for row in rows}


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_a_database_and_back(
    funded_account: Callable[..., Account],
) -> None:
    row_fks = {
        "accounts_transfer_debit_account_id_b6159f3a_fk_accounts_",
        "accounts_transfer_credit_account_id_39cbbe2c_fk_accounts_",
        "accounts_transferkey_transfer_fk",
    }
    a, b = funded_account(1_000), funded_account()
    assert not row_fks & _constraints()
    _migrate(("accounts", "0012_partition_transfers"))
    try:
        assert row_fks <= _constraints()
        first = transfer_create(
            debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=3, code="internal"
        )
        _sql("DELETE FROM accounts_account WHERE id = %s", [funded_account().pk])  # allowed then
    finally:
        _migrate(("accounts", "0013_transfer_set_based_references"))
    assert not row_fks & _constraints()
    assert Transfer.objects.filter(pk=first.pk).exists()
    _refused(_INSERT, [1, a.pk, MISSING], "does not exist")
    _refused("DELETE FROM accounts_account WHERE id = %s", [b.pk], "DELETE of accounts")
    transfer_create(debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=4, code="internal")
    assert ledger_check() == [] and audit_verify() == []
