"""Monthly partitions of the audit events: the migration, pruning, guards, the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from audit.chain import audit_record, audit_verify
from audit.partitions import audit_partitions_ensure

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("audit", "0004_audit_append_many"), ("audit", "0005_partition_audit_events")
PAST = [datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)]


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def _migrate_latest() -> None:
    """Every app back at its newest migration (going back to BEFORE unapplied its dependents)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _append_at(created: datetime, action: str) -> int:
    """An event dated ``created``, made as ``audit_record`` makes them (through audit_append)."""
    fields: dict[str, object] = {
        "created_at": created.isoformat(), "actor_id": None, "actor_label": "system",
        "action": action, "object_type": "", "object_id": "", "client_address": None, "data": {},
    }  # fmt: skip
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT audit_append(%s, NULL, 'system', %s, '', '', NULL, '{}'::jsonb, %s)",
            [created, action, payload],
        )
        return int(cursor.fetchone()[0])


def _partitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'compliance_auditevent'::regclass ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def _is_partitioned() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'compliance_auditevent'")
        return cursor.fetchone() == ("p",)


@pytest.fixture
def unpartitioned() -> Iterator[None]:
    """The audit app as it was before 0005 (unpartitioned); migrated forward afterwards."""
    _migrate(BEFORE)
    try:
        yield
    finally:
        _migrate_latest()


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y%m")


def test_the_migration_partitions_existing_events_and_keeps_the_chain(unpartitioned: None) -> None:
    assert not _is_partitioned()
    seqs = [_append_at(when, f"test.old{k}") for k, when in enumerate(PAST)]
    seqs.append(audit_record(actor=None, action="test.now"))
    assert audit_verify() == []

    _migrate(AFTER)

    assert _is_partitioned()
    names = _partitions()
    assert {"compliance_auditevent_p202506", "compliance_auditevent_p202601"} <= set(names)
    assert f"compliance_auditevent_p{_this_month()}" in names
    assert len([n for n in names if n > f"compliance_auditevent_p{_this_month()}"]) == 3
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, seq FROM compliance_auditevent ORDER BY seq"
        )
        rows = cursor.fetchall()
    placed = dict((seq, part) for part, seq in rows)
    assert placed[seqs[0]] == "compliance_auditevent_p202506"  # 23:59:59 UTC on the 30th
    assert placed[seqs[1]] == "compliance_auditevent_p202601"
    assert audit_verify() == []  # every row moved, in order, hashes intact
    after = audit_record(actor=None, action="test.after")  # the chain goes on
    assert after == seqs[-1] + 1 and audit_verify() == []


def test_a_month_range_query_reads_one_partition() -> None:
    audit_record(actor=None, action="test.pruning")
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT count(*) FROM compliance_auditevent "
            "WHERE created_at >= %s AND created_at < %s + interval '1 month'",
            [start, start],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    scanned = [n for n in _partitions() if n in plan]
    assert scanned == [f"compliance_auditevent_p{_this_month()}"], plan


@pytest.mark.parametrize("target", ["parent", "partition"])
def test_events_stay_immutable_in_every_partition(target: str) -> None:
    seq = audit_record(actor=None, action="test.guard")
    table = (
        "compliance_auditevent" if target == "parent" else f"compliance_auditevent_p{_this_month()}"
    )
    for sql, match in (
        (f"UPDATE {table} SET action = 'x' WHERE seq = %s", "immutable"),  # noqa: S608
        (f"DELETE FROM {table} WHERE seq = %s", "immutable"),  # noqa: S608
        (f"TRUNCATE {table}", "TRUNCATE"),
    ):
        with (
            pytest.raises(DatabaseError, match=match),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL alatau.allow_truncate = 'off'")
            cursor.execute(sql, [seq] if "%s" in sql else None)
    assert audit_verify() == []


def test_partitions_are_made_ahead_and_a_missing_month_is_refused() -> None:
    assert audit_partitions_ensure() == 0  # the migration made them already
    assert audit_partitions_ensure(months_ahead=4) == 1  # one more month
    assert audit_partitions_ensure(months_ahead=4) == 0  # idempotent
    with pytest.raises(DatabaseError, match="no partition"), transaction.atomic():
        _append_at(datetime(2001, 1, 1, tzinfo=UTC), "test.nowhere")
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_partition_create('2001-01-15')")
    assert _append_at(datetime(2001, 1, 1, tzinfo=UTC), "test.archive") > 0
    assert "compliance_auditevent_p200101" in _partitions()
