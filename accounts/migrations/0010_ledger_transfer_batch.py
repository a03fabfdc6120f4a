"""Install ``ledger_transfer_batch``: many transfers posted atomically in one SQL call.

The function text lives in ``accounts/ledger_batch_sql.py`` (CREATE OR REPLACE, so
a later migration may re-install the newest text the same way).
"""

from django.db import migrations

from accounts.ledger_batch_sql import LEDGER_TRANSFER_BATCH_SQL


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_ledger_transfer_uses_audit_append"),
        ("audit", "0004_audit_append_many"),
    ]

    operations = [
        migrations.RunSQL(
            LEDGER_TRANSFER_BATCH_SQL, "DROP FUNCTION IF EXISTS ledger_transfer_batch;"
        ),
    ]
