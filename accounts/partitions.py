"""Monthly partitions of the transfers (``accounts_transfer``), by ``created_at``.

Modelled on the audit events' partitions (``audit/partitions.py``). PostgreSQL 15 wants
every unique key of a partitioned table to contain the partition key, and a foreign key
to reference such a key. What the unpartitioned table promised, and how it still holds:

- The id: ``PRIMARY KEY (id, created_at)`` in the database; Django keeps ``id`` as the
  model's pk. Ids come from one sequence, and the key table below holds each id once.
- Idempotency, one reversal per transfer, and every foreign key that points at a
  transfer: the plain table ``accounts_transferkey`` (model ``TransferKey``) holds one
  row per transfer (id, created_at, initiator, idempotency key, request hash, reversed
  id). Its ``UNIQUE (initiator, key)`` is the global idempotency index (under its old
  name, ``transfer_idempotency_key_per_initiator``), its ``UNIQUE (reverses_id)`` the one
  reversal per transfer. An AFTER INSERT statement trigger on the parent fills it
  from the inserted rows (a transition table, set-based), in the inserting statement:
  the ORM path, ``ledger_transfer`` and ``ledger_transfer_batch`` all fill it without a
  change to their insert. So a key row never lacks its transfer: 0012 also made its
  ``(id, created_at)`` reference the transfer, a deferred foreign key checked row by row
  at commit; migration 0013 dropped it, since the key table refuses every insert but
  the fill's and neither table's rows change or go (``accounts/references.py``). The foreign keys that pointed at ``accounts_transfer(id)`` (13
  today, the transfer's own ``reverses`` among them) are re-pointed to
  ``accounts_transferkey(id)`` under their old names. Transfers are never updated or
  deleted, so the key row of an id is there for as long as anything refers to it.
- A row inserted into a partition directly would skip the parent's statement trigger and
  so its key row: each partition refuses direct inserts (a statement trigger that rows
  routed through the parent do not fire). ``ledger_check`` also compares the two tables.
  The same holds for 0013's check that a transfer's accounts exist (a statement trigger
  on the parent).
- Immutability: the UPDATE/DELETE row trigger is on the parent and PostgreSQL clones it
  into every partition; TRUNCATE triggers are not cloned, so each partition gets its own.

Partitions are made ahead of need: the migration makes every month that has rows plus
this month and the next ``MONTHS_AHEAD``; ``accounts.tasks.transfer_partitions_ensure``
(daily, Celery beat) keeps that many ahead. No default partition: a transfer dated in a
month without a partition is refused loudly (a default partition holding a month's rows
would stop that month's partition from ever being created).
"""

from __future__ import annotations

MONTHS_AHEAD = 3
TABLE = "accounts_transfer"
KEYS = "accounts_transferkey"

PARTITION_FUNCTIONS_SQL = r"""
CREATE OR REPLACE FUNCTION accounts_transfer_refuse_direct_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'INSERT into % is not allowed: insert through accounts_transfer', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE OR REPLACE FUNCTION accounts_transferkey_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts_transferkey (id, created_at, initiator_id, idempotency_key,
        request_hash, reverses_id)
    SELECT id, created_at, initiator_id, idempotency_key, request_hash, reverses_id
      FROM new_transfers;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION accounts_transfer_partition_create(p_month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', p_month)::date;
    part text := 'accounts_transfer_p' || to_char(m, 'YYYYMM');
BEGIN
    -- One creator at a time (the daily task on several workers, a migration).
    PERFORM pg_advisory_xact_lock(hashtext('accounts_transfer_partition_create'));
    IF to_regclass(part) IS NOT NULL THEN RETURN false; END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF accounts_transfer FOR VALUES FROM (%L) TO (%L)',
        part, m::timestamp AT TIME ZONE 'UTC', (m + 1 * interval '1 month')::timestamp AT TIME ZONE 'UTC');
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
        'EXECUTE FUNCTION alatau_refuse_truncate()', part || '_no_truncate', part);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I FOR EACH STATEMENT '
        'EXECUTE FUNCTION accounts_transfer_refuse_direct_insert()', part || '_via_parent', part);
    RETURN true;
END;
$$;

CREATE OR REPLACE FUNCTION accounts_transfer_partitions_ensure(p_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    this_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    made integer := 0;
BEGIN
    FOR k IN 0 .. p_ahead LOOP
        IF accounts_transfer_partition_create((this_month + k * interval '1 month')::date) THEN
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END;
$$;
"""

PARTITION_FUNCTIONS_DROP_SQL = (
    "DROP FUNCTION IF EXISTS accounts_transfer_partitions_ensure(integer);"
    "DROP FUNCTION IF EXISTS accounts_transfer_partition_create(date);"
    "DROP FUNCTION IF EXISTS accounts_transferkey_fill();"
    "DROP FUNCTION IF EXISTS accounts_transfer_refuse_direct_insert();"
)

_COLUMNS = (
    "id, group_id, amount_minor, currency, code, source_id, idempotency_key, request_hash,"
    " memo, kzt_value_tiyn, created_at, credit_account_id, debit_account_id, initiator_id,"
    " reverses_id, source_type_id"
)

_DEFINITION = """
    id bigint NOT NULL,
    group_id uuid NOT NULL,
    amount_minor bigint NOT NULL,
    currency varchar(3) NOT NULL,
    code varchar(16) NOT NULL,
    source_id varchar(64) NOT NULL,
    idempotency_key varchar(128),
    request_hash varchar(64) NOT NULL,
    memo varchar(255) NOT NULL,
    kzt_value_tiyn bigint,
    created_at timestamp with time zone NOT NULL,
    credit_account_id bigint NOT NULL,
    debit_account_id bigint NOT NULL,
    initiator_id bigint,
    reverses_id bigint,
    source_type_id integer,
    CONSTRAINT transfer_amount_positive CHECK (amount_minor > 0),
    CONSTRAINT transfer_two_accounts CHECK (NOT debit_account_id = credit_account_id)
"""

# Django's names for the indexes and foreign keys (deterministic), kept as they were.
_INDEXES = """
CREATE INDEX accounts_tr_debit_a_6ef58b_idx ON accounts_transfer (debit_account_id, id);
CREATE INDEX accounts_tr_credit__3ffabd_idx ON accounts_transfer (credit_account_id, id);
CREATE INDEX accounts_tr_source__404742_idx ON accounts_transfer (source_type_id, source_id);
CREATE INDEX accounts_transfer_group_id_82e1b33f ON accounts_transfer (group_id);
CREATE INDEX accounts_transfer_created_at_0b9251bc ON accounts_transfer (created_at);
ALTER TABLE accounts_transfer
    ADD CONSTRAINT accounts_transfer_credit_account_id_39cbbe2c_fk_accounts_
    FOREIGN KEY (credit_account_id) REFERENCES accounts_account (id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT accounts_transfer_debit_account_id_b6159f3a_fk_accounts_
    FOREIGN KEY (debit_account_id) REFERENCES accounts_account (id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT accounts_transfer_initiator_id_10bff6aa_fk_accounts_user_id
    FOREIGN KEY (initiator_id) REFERENCES accounts_user (id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT accounts_transfer_source_type_id_7fb0e483_fk_django_co
    FOREIGN KEY (source_type_id) REFERENCES django_content_type (id) DEFERRABLE INITIALLY DEFERRED;
CREATE TRIGGER accounts_transfer_immutable BEFORE UPDATE OR DELETE ON accounts_transfer
    FOR EACH ROW EXECUTE FUNCTION alatau_refuse_change();
CREATE TRIGGER accounts_transfer_no_truncate BEFORE TRUNCATE ON accounts_transfer
    FOR EACH STATEMENT EXECUTE FUNCTION alatau_refuse_truncate();
"""

_REVERSES_FK = "accounts_transfer_reverses_id_a9b69eea_fk_accounts_transfer_id"

# Every foreign key from another table to ``target(id)``, remembered and dropped (generic:
# whichever app owns the referencing table), so it can be re-made to the other target.
_FKS_DROP = """
CREATE TEMP TABLE transfer_fks ON COMMIT DROP AS
SELECT c.conrelid::regclass::text AS tbl, c.conname::text AS name, a.attname::text AS col
  FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
 WHERE c.contype = 'f' AND c.confrelid = '{target}'::regclass AND c.conparentid = 0
   AND c.conrelid NOT IN ('accounts_transfer'::regclass, 'accounts_transferkey'::regclass);
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT * FROM transfer_fks LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.name);
    END LOOP;
END $$;
"""

_FKS_MAKE = """
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT * FROM transfer_fks LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES {target} (id) '
            'DEFERRABLE INITIALLY DEFERRED', r.tbl, r.name, r.col);
    END LOOP;
END $$;
DROP TABLE transfer_fks;
"""

KEY_TO_TRANSFER_FK = "accounts_transferkey_transfer_fk"


def _partition() -> str:
    """SQL: the transfers rebuilt as a partitioned table, the key table filled and wired."""
    return f"""
SET CONSTRAINTS ALL IMMEDIATE;
LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE;
{_FKS_DROP.format(target=TABLE)}
ALTER TABLE {TABLE} RENAME TO {TABLE}_old;
CREATE TABLE {TABLE} ({_DEFINITION}) PARTITION BY RANGE (created_at);
SELECT accounts_transfer_partition_create(m::date) FROM (
    SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') AS m
      FROM {TABLE}_old) AS months;
SELECT accounts_transfer_partitions_ensure({MONTHS_AHEAD});
INSERT INTO {TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {TABLE}_old ORDER BY id;
INSERT INTO {KEYS} (id, created_at, initiator_id, idempotency_key, request_hash, reverses_id)
SELECT id, created_at, initiator_id, idempotency_key, request_hash, reverses_id
  FROM {TABLE}_old ORDER BY id;
DROP TABLE {TABLE}_old;
CREATE SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id;
SELECT setval('{TABLE}_id_seq', COALESCE((SELECT max(id) FROM {KEYS}), 0) + 1, false);
ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_seq');
ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, created_at);
{_INDEXES}
-- Reversals are rare: a partial index serves Django's reversed_by lookups almost for free.
CREATE INDEX accounts_transfer_reverses_id_partial ON {TABLE} (reverses_id)
    WHERE reverses_id IS NOT NULL;
ALTER TABLE {TABLE} ADD CONSTRAINT {_REVERSES_FK} FOREIGN KEY (reverses_id)
    REFERENCES {KEYS} (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE {KEYS} ADD CONSTRAINT {KEY_TO_TRANSFER_FK} FOREIGN KEY (id, created_at)
    REFERENCES {TABLE} (id, created_at) DEFERRABLE INITIALLY DEFERRED;
CREATE TRIGGER accounts_transferkey_fill AFTER INSERT ON {TABLE}
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_transferkey_fill();
CREATE TRIGGER accounts_transferkey_immutable BEFORE UPDATE OR DELETE ON {KEYS}
    FOR EACH ROW EXECUTE FUNCTION alatau_refuse_change();
CREATE TRIGGER accounts_transferkey_no_truncate BEFORE TRUNCATE ON {KEYS}
    FOR EACH STATEMENT EXECUTE FUNCTION alatau_refuse_truncate();
{_FKS_MAKE.format(target=KEYS)}
"""  # noqa: S608 - constants only


def _unpartition() -> str:
    """SQL: the reverse, the plain table rebuilt around the same rows, keys pointed back."""
    return f"""
SET CONSTRAINTS ALL IMMEDIATE;
LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE;
{_FKS_DROP.format(target=KEYS)}
DROP TRIGGER accounts_transferkey_immutable ON {KEYS};
DROP TRIGGER accounts_transferkey_no_truncate ON {KEYS};
ALTER TABLE {KEYS} DROP CONSTRAINT {KEY_TO_TRANSFER_FK};
ALTER TABLE {TABLE} RENAME TO {TABLE}_old;
CREATE TABLE {TABLE} ({_DEFINITION});
INSERT INTO {TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {TABLE}_old ORDER BY id;
DROP TABLE {TABLE}_old;
ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'),
              COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false);
ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id);
ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_reverses_id_key UNIQUE (reverses_id);
{_INDEXES}
ALTER TABLE {TABLE} ADD CONSTRAINT {_REVERSES_FK} FOREIGN KEY (reverses_id)
    REFERENCES {TABLE} (id) DEFERRABLE INITIALLY DEFERRED;
{_FKS_MAKE.format(target=TABLE)}
"""  # noqa: S608 - constants only


PARTITION_SQL = _partition()
UNPARTITION_SQL = _unpartition()


def transfer_partitions_ensure(months_ahead: int = MONTHS_AHEAD) -> int:
    """Create the transfers' partitions for this month and the next ``months_ahead``."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute("SELECT accounts_transfer_partitions_ensure(%s)", [months_ahead])
        row = cursor.fetchone()
    return int(row[0]) if row else 0
