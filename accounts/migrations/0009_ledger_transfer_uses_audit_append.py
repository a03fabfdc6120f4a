"""Re-install ``ledger_transfer``: its audit event now goes through ``audit_append``."""

from django.db import migrations

from accounts.ledger_sql import LEDGER_TRANSFER_SQL


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_models_moved_out"),
        ("audit", "0002_audit_append_function"),
    ]

    operations = [migrations.RunSQL(LEDGER_TRANSFER_SQL, migrations.RunSQL.noop)]
