"""Database guards of the ledger: immutable transfers and the account number sequence."""

from django.db import migrations

IMMUTABLE_FN = """
CREATE OR REPLACE FUNCTION alatau_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: rows are immutable', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""

TRANSFER_TRIGGER = """
CREATE TRIGGER accounts_transfer_immutable
    BEFORE UPDATE OR DELETE ON accounts_transfer
    FOR EACH ROW EXECUTE FUNCTION alatau_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RunSQL(IMMUTABLE_FN, "DROP FUNCTION IF EXISTS alatau_refuse_change() CASCADE;"),
        migrations.RunSQL(
            TRANSFER_TRIGGER,
            "DROP TRIGGER IF EXISTS accounts_transfer_immutable ON accounts_transfer;",
        ),
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS accounts_account_number_seq START 1000;",
            "DROP SEQUENCE IF EXISTS accounts_account_number_seq;",
        ),
    ]
