"""Transfers' references checked once per statement, not row by row at commit (``accounts/references.py``).

Drops the deferred foreign keys ``accounts_transfer.debit_account_id`` and
``.credit_account_id`` -> ``accounts_account`` and ``accounts_transferkey (id, created_at)``
-> ``accounts_transfer``, after installing what gives the same guarantee: a statement
trigger on the transfers that refuses a statement naming a missing account (one
anti-join over the transition table), guards that refuse DELETE, a change of ``id`` and
TRUNCATE of accounts, and a refusal of direct inserts into the key table (its fill
trigger writes it). Re-installs ``ledger_transfer_batch``, which now spells its audit
payloads out as text (the same bytes, for less). In Django's state the two account fields become
``db_constraint=False``, which is what the database now has. Reversible: the reverse
adds the foreign keys back (PostgreSQL validates every existing row) and drops the
guards.
"""

import django.db.models.deletion
from django.db import migrations, models

from accounts.ledger_batch_sql import LEDGER_TRANSFER_BATCH_SQL
from accounts.references import (
    REFERENCE_FUNCTIONS_DROP_SQL,
    REFERENCE_FUNCTIONS_SQL,
    ROW_BY_ROW_SQL,
    SET_BASED_SQL,
)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0012_partition_transfers")]

    operations = [
        migrations.RunSQL(REFERENCE_FUNCTIONS_SQL, REFERENCE_FUNCTIONS_DROP_SQL),
        # Back: the same text stays (its payloads are byte for byte those of the old one).
        migrations.RunSQL(LEDGER_TRANSFER_BATCH_SQL, migrations.RunSQL.noop),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(SET_BASED_SQL, ROW_BY_ROW_SQL)],
            state_operations=[
                migrations.AlterField(
                    model_name="transfer",
                    name="credit_account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credits",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="transfer",
                    name="debit_account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="debits",
                        to="accounts.account",
                    ),
                ),
            ],
        ),
    ]
