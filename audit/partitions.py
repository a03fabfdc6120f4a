"""Monthly partitions of the audit events (``compliance_auditevent``), by ``created_at``.

The table is declaratively partitioned by range of ``created_at``, one partition per UTC
month, named ``compliance_auditevent_pYYYYMM``. What the unpartitioned table promised
still holds:

- Immutability: the row trigger refusing UPDATE and DELETE is defined on the parent, and
  PostgreSQL clones it into every partition, present and future. TRUNCATE triggers are
  not cloned and a partition can be truncated on its own, so ``audit_partition_create``
  gives each partition its own TRUNCATE guard.
- Order and uniqueness of ``seq``: a unique index on a partitioned table must contain the
  partition key, so the index is ``(seq, created_at)``. ``seq`` stays globally unique
  because only the chain head hands it out (``audit_append`` / ``audit_append_many``
  advance the one head row under its lock), and ``audit_verify`` walks the events in seq
  order and reports any gap or repeat. A separate global table of seq numbers would add an
  insert to every money movement for a guarantee the chain already gives.
- The id: ``PRIMARY KEY (id, created_at)`` for the same reason; ids come from one
  sequence. No foreign key points at this table.

Partitions are created ahead of need: the migration creates the months present plus the
next ``MONTHS_AHEAD``, and ``audit.tasks.audit_partitions_ensure`` (daily, Celery beat)
keeps that many months ahead. There is no default partition: an event for a month without
a partition is refused loudly rather than filed where a later partition cannot be made.
"""

from __future__ import annotations

MONTHS_AHEAD = 3
TABLE = "compliance_auditevent"

PARTITION_FUNCTIONS_SQL = r"""
CREATE OR REPLACE FUNCTION audit_partition_create(p_month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', p_month)::date;
    part text := 'compliance_auditevent_p' || to_char(m, 'YYYYMM');
BEGIN
    -- One creator at a time (the daily task on several workers, a migration).
    PERFORM pg_advisory_xact_lock(hashtext('audit_partition_create'));
    IF to_regclass(part) IS NOT NULL THEN RETURN false; END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF compliance_auditevent FOR VALUES FROM (%L) TO (%L)',
        part, m::timestamp AT TIME ZONE 'UTC', (m + 1 * interval '1 month')::timestamp AT TIME ZONE 'UTC');
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
        'EXECUTE FUNCTION alatau_refuse_truncate()', part || '_no_truncate', part);
    RETURN true;
END;
$$;

CREATE OR REPLACE FUNCTION audit_partitions_ensure(p_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    this_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    made integer := 0;
BEGIN
    FOR k IN 0 .. p_ahead LOOP
        IF audit_partition_create((this_month + k * interval '1 month')::date) THEN
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END;
$$;
"""

PARTITION_FUNCTIONS_DROP_SQL = (
    "DROP FUNCTION IF EXISTS audit_partitions_ensure(integer);"
    "DROP FUNCTION IF EXISTS audit_partition_create(date);"
)

_COLUMNS = (
    "id, seq, created_at, actor_label, action, object_type, object_id, client_address, data,"
    " payload, prev_hash, hash, actor_id"
)

_DEFINITION = """
    id bigint NOT NULL,
    seq bigint NOT NULL,
    created_at timestamp with time zone NOT NULL,
    actor_label varchar(200) NOT NULL,
    action varchar(64) NOT NULL,
    object_type varchar(64) NOT NULL,
    object_id varchar(64) NOT NULL,
    client_address inet,
    data jsonb NOT NULL,
    payload text NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    actor_id bigint
"""

# Django's names for the indexes (deterministic: table and column names), kept as they were.
_INDEXES = """
CREATE INDEX compliance__object__53cfe7_idx ON compliance_auditevent (object_type, object_id);
CREATE INDEX compliance_auditevent_action_5ca91f15 ON compliance_auditevent (action);
CREATE INDEX compliance_auditevent_action_5ca91f15_like
    ON compliance_auditevent (action varchar_pattern_ops);
CREATE INDEX compliance_auditevent_actor_id_9b6cacf0 ON compliance_auditevent (actor_id);
CREATE INDEX compliance_auditevent_created_at_1770f510 ON compliance_auditevent (created_at);
ALTER TABLE compliance_auditevent
    ADD CONSTRAINT compliance_auditevent_actor_id_9b6cacf0_fk_accounts_user_id
    FOREIGN KEY (actor_id) REFERENCES accounts_user (id) DEFERRABLE INITIALLY DEFERRED;
CREATE TRIGGER compliance_auditevent_append_only BEFORE DELETE OR UPDATE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION alatau_refuse_change();
CREATE TRIGGER compliance_auditevent_no_truncate BEFORE TRUNCATE ON compliance_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION alatau_refuse_truncate();
"""


def _rebuild(*, partitioned: bool) -> str:
    """SQL that rebuilds the events table (partitioned or not) around the same rows.

    The old table is renamed, the new one created (with partitions for every month that
    has rows, and the next months), the rows copied in seq order, the old table dropped;
    then the sequence, keys, indexes, foreign key and guards are created under their old
    names. All in the migration's transaction, under an exclusive lock: appends wait.
    """
    keys = (
        "PRIMARY KEY (id, created_at)", "UNIQUE (seq, created_at)"
    ) if partitioned else ("PRIMARY KEY (id)", "UNIQUE (seq)")  # fmt: skip
    partitions = (  # constants only, no input: S608 does not apply
        f"""
SELECT audit_partition_create(m::date) FROM (
    SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') AS m
      FROM {TABLE}_old) AS months;
SELECT audit_partitions_ensure({MONTHS_AHEAD});
"""  # noqa: S608
        if partitioned
        else ""
    )
    return f"""
LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE;
LOCK TABLE compliance_auditchainhead IN EXCLUSIVE MODE;
ALTER TABLE {TABLE} RENAME TO {TABLE}_old;
CREATE TABLE {TABLE} ({_DEFINITION}){" PARTITION BY RANGE (created_at)" if partitioned else ""};
{partitions}
INSERT INTO {TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {TABLE}_old ORDER BY seq;
DROP TABLE {TABLE}_old;
CREATE SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id;
SELECT setval('{TABLE}_id_seq', COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false);
ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_seq');
ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey {keys[0]};
ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_seq_key {keys[1]};
{_INDEXES}
"""  # noqa: S608 - constants only


PARTITION_SQL = _rebuild(partitioned=True)
UNPARTITION_SQL = _rebuild(partitioned=False)


def audit_partitions_ensure(months_ahead: int = MONTHS_AHEAD) -> int:
    """Create the partitions of this month and the next ``months_ahead``; return how many."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute("SELECT audit_partitions_ensure(%s)", [months_ahead])
        row = cursor.fetchone()
    return int(row[0]) if row else 0
