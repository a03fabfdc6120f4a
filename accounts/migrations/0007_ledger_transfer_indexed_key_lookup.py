"""Re-install ``ledger_transfer`` with an index-friendly idempotency lookup.

The first version looked the key up with ``initiator_id IS NOT DISTINCT FROM $1``;
PL/pgSQL's cached generic plan cannot use the unique index for that and scanned
the whole transfer table on every call (found by bench/ledger_pgbench.sh).
"""

from django.db import migrations

from accounts.ledger_sql import LEDGER_TRANSFER_SQL


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_transfer_lean_indexes")]

    operations = [migrations.RunSQL(LEDGER_TRANSFER_SQL, migrations.RunSQL.noop)]
