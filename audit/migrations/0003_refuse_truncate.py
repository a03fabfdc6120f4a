"""Refuse TRUNCATE on the audit events and the ledger's transfers.

Row triggers already refuse UPDATE and DELETE; TRUNCATE skips row triggers, so a
statement trigger refuses it too. The test suite's database flush (Django empties
tables between transactional tests) sets ``alatau.allow_truncate`` on its own
connection (``bank/settings_test.py``); nothing else does. An administrator who owns the
tables can still drop a trigger: that is what the sealed anchors outside the database
are for (``audit/anchors.py``).
"""

from django.db import migrations

REFUSE_TRUNCATE_FN = """
CREATE OR REPLACE FUNCTION alatau_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('alatau.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'TRUNCATE on % is not allowed: rows are immutable', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""

TABLES = ["compliance_auditevent", "accounts_transfer"]


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_audit_append_function"), ("accounts", "0002_ledger_guards")]

    operations = [
        migrations.RunSQL(
            REFUSE_TRUNCATE_FN, "DROP FUNCTION IF EXISTS alatau_refuse_truncate() CASCADE;"
        ),
        *[
            migrations.RunSQL(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION alatau_refuse_truncate();",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
            )
            for table in TABLES
        ],
    ]
