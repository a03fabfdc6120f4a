"""The transfers' references, checked once per statement instead of row by row (migration 0013).

Django made every foreign key ``DEFERRABLE INITIALLY DEFERRED``: PostgreSQL then queues one
check per row and runs them one by one at COMMIT (``SELECT 1 ... FOR KEY SHARE`` each). A
batch of 1,000 transfers paid about 3,000 of them, some 100 ms of every batch, while the
batch held the accounts' locks and the batches' advisory lock. Three foreign keys of the
hot tables are replaced here by checks that cost one query per statement and by guards
that make the rest of what a foreign key does unnecessary. Why each guarantee still holds:

- ``accounts_transfer.debit_account_id`` and ``.credit_account_id`` -> ``accounts_account``.
  *A new transfer names an existing account*: an AFTER INSERT statement trigger on the
  parent (``accounts_transfer_accounts_exist``, a transition table, so every inserting
  path: the ORM, ``ledger_transfer``, ``ledger_transfer_batch``) looks every named
  account up in one anti-join and refuses the statement (``foreign_key_violation``)
  if one is missing. Rows cannot skip it: each partition refuses direct inserts
  (``accounts/partitions.py``). The check runs at the end of the inserting statement, not
  at COMMIT: an account must exist before a transfer names it (every service opens or
  locks its accounts first). *The account stays*: the foreign key's other half is the
  lock (``FOR KEY SHARE``) it takes so that no one deletes the account or changes its id
  before the commit, and the refusal of such a DELETE or UPDATE later. Here accounts are
  never deleted and their id never changes, whoever asks: row triggers on
  ``accounts_account`` refuse DELETE and an UPDATE that changes ``id``, and a statement
  trigger refuses TRUNCATE (except the test suite's flush, ``alatau.allow_truncate``, as
  for the transfers). With nothing that could remove an account, there is nothing to
  lock it against. An account that is done with is closed (``status``), not deleted.
- ``accounts_transferkey (id, created_at)`` -> ``accounts_transfer``. *A key row never
  lacks its transfer*: key rows are written only by the fill trigger, from the inserted
  transfers, in the inserting statement (``accounts/partitions.py``). A direct INSERT into
  the key table is refused (a statement trigger that lets through only an insert made
  from inside a trigger, as the fill's is: no other trigger writes the table, and the
  ORM never writes ``TransferKey``), and both
  tables refuse UPDATE, DELETE and TRUNCATE. So a key row and its transfer are written
  by one statement and are never changed or removed.
- Both are asserted again on read: ``ledger_check`` reports a transfer that names a
  missing account ("every transfer names existing accounts"), a key row without its
  transfer and the other way round ("every transfer has its key row"), and a missing or
  disabled trigger ("references checked (triggers installed)"). A superuser who sets
  ``session_replication_role = replica`` or disables triggers skips these checks, as he
  would skip a foreign key's (those are triggers too).

Kept as they were: the foreign keys to users (``initiator``) and content types
(``source_type``), ``reverses`` (to the key table) and every foreign key of other tables to
``accounts_transferkey(id)``. Django's model state matches the database:
``Transfer.debit_account`` and ``.credit_account`` are ``db_constraint=False``; the key
table's foreign key to the transfer was only ever in SQL.
"""

from __future__ import annotations

from accounts.partitions import KEY_TO_TRANSFER_FK

# Django's names (deterministic), so that the reverse gives back exactly what 0012 made.
DEBIT_FK = "accounts_transfer_debit_account_id_b6159f3a_fk_accounts_"
CREDIT_FK = "accounts_transfer_credit_account_id_39cbbe2c_fk_accounts_"

# Triggers that must be installed and enabled (``ledger_check``), on their tables.
GUARD_TRIGGERS = (
    ("accounts_transfer", "accounts_transfer_accounts_exist"),
    ("accounts_transferkey", "accounts_transferkey_via_transfer"),
    ("accounts_account", "accounts_account_no_delete"),
    ("accounts_account", "accounts_account_id_fixed"),
    ("accounts_account", "accounts_account_no_truncate"),
)

REFERENCE_FUNCTIONS_SQL = r"""
CREATE OR REPLACE FUNCTION accounts_transfer_accounts_exist() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT r.account_id INTO missing
      FROM (SELECT debit_account_id AS account_id FROM new_transfers
            UNION SELECT credit_account_id FROM new_transfers) r
     WHERE NOT EXISTS (SELECT 1 FROM accounts_account a WHERE a.id = r.account_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into accounts_transfer names account %, which does not exist',
            missing
            USING ERRCODE = 'foreign_key_violation', TABLE = 'accounts_transfer',
                  CONSTRAINT = 'accounts_transfer_accounts_exist';
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION accounts_transferkey_refuse_direct_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The fill trigger's INSERT runs inside a trigger (depth 2 here, or more); a
    -- statement sent by a client, or run by a function it calls, is at depth 1.
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'INSERT into accounts_transferkey is not allowed: its rows are '
            'filled from the transfers inserted into accounts_transfer'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION accounts_account_refuse_removal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of accounts_account % is not allowed: transfers name accounts by id '
        'for ever (close the account instead)',
        CASE TG_OP WHEN 'DELETE' THEN 'DELETE' ELSE 'a change of the id' END, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""

REFERENCE_FUNCTIONS_DROP_SQL = (
    "DROP FUNCTION IF EXISTS accounts_account_refuse_removal();"
    "DROP FUNCTION IF EXISTS accounts_transferkey_refuse_direct_insert();"
    "DROP FUNCTION IF EXISTS accounts_transfer_accounts_exist();"
)

# The guards first, then the foreign keys go: no moment without either.
SET_BASED_SQL = f"""
SET CONSTRAINTS ALL IMMEDIATE;
CREATE TRIGGER accounts_transfer_accounts_exist AFTER INSERT ON accounts_transfer
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_transfer_accounts_exist();
CREATE TRIGGER accounts_transferkey_via_transfer BEFORE INSERT ON accounts_transferkey
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_transferkey_refuse_direct_insert();
CREATE TRIGGER accounts_account_no_delete BEFORE DELETE ON accounts_account
    FOR EACH ROW EXECUTE FUNCTION accounts_account_refuse_removal();
CREATE TRIGGER accounts_account_id_fixed BEFORE UPDATE OF id ON accounts_account
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION accounts_account_refuse_removal();
CREATE TRIGGER accounts_account_no_truncate BEFORE TRUNCATE ON accounts_account
    FOR EACH STATEMENT EXECUTE FUNCTION alatau_refuse_truncate();
ALTER TABLE accounts_transfer DROP CONSTRAINT {DEBIT_FK}, DROP CONSTRAINT {CREDIT_FK};
ALTER TABLE accounts_transferkey DROP CONSTRAINT {KEY_TO_TRANSFER_FK};
"""

# The reverse: the foreign keys back (validated against every row), then the guards go.
ROW_BY_ROW_SQL = f"""
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE accounts_transfer
    ADD CONSTRAINT {CREDIT_FK} FOREIGN KEY (credit_account_id)
        REFERENCES accounts_account (id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT {DEBIT_FK} FOREIGN KEY (debit_account_id)
        REFERENCES accounts_account (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE accounts_transferkey ADD CONSTRAINT {KEY_TO_TRANSFER_FK} FOREIGN KEY (id, created_at)
    REFERENCES accounts_transfer (id, created_at) DEFERRABLE INITIALLY DEFERRED;
DROP TRIGGER accounts_account_no_truncate ON accounts_account;
DROP TRIGGER accounts_account_id_fixed ON accounts_account;
DROP TRIGGER accounts_account_no_delete ON accounts_account;
DROP TRIGGER accounts_transferkey_via_transfer ON accounts_transferkey;
DROP TRIGGER accounts_transfer_accounts_exist ON accounts_transfer;
"""
