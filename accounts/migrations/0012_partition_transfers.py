"""Partition the transfers by month; global keys move to ``TransferKey`` (``accounts/partitions.py``).

Rebuilds ``accounts_transfer`` as a table partitioned by range of ``created_at`` (one
partition per UTC month) around the existing rows, creates ``accounts_transferkey`` with
one row per transfer (the idempotency index under its old name, one reversal per
transfer), re-points every foreign key that referenced ``accounts_transfer(id)`` to
``accounts_transferkey(id)`` and re-installs the posting functions, whose key lookups now
read the key table. Reversible: the reverse rebuilds the plain table and points the
foreign keys back.

It depends on the newest migrations of the apps whose tables point at transfers, so that
on a new database their foreign keys exist (and are re-pointed) before it runs: a foreign
key to the partitioned table's ``id`` alone cannot be created. A later migration that adds
or alters such a field must point its constraint at ``accounts_transferkey`` (in SQL, or
with ``db_constraint=False`` and the constraint in SQL).
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Q, deletion

from accounts.ledger_batch_sql import LEDGER_TRANSFER_BATCH_SQL
from accounts.ledger_sql import LEDGER_TRANSFER_SQL
from accounts.partitions import (
    PARTITION_FUNCTIONS_DROP_SQL,
    PARTITION_FUNCTIONS_SQL,
    PARTITION_SQL,
    UNPARTITION_SQL,
)


def _on_transfer_table(sql: str) -> str:
    """The posting function as it was before: key lookups on the transfer table itself."""
    return sql.replace("FROM accounts_transferkey t", "FROM accounts_transfer t")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_translated_verbose_names"),
        ("audit", "0006_merge_parallel_branches"),
        ("custody", "0007_merge_parallel_branches"),
        ("merchants", "0011_merge_payout_notified_refund_claims"),
        ("treasury", "0003_translated_verbose_names"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="transfer", name="transfer_idempotency_key_per_initiator"
        ),
        migrations.CreateModel(
            name="TransferKey",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField()),
                ("idempotency_key", models.CharField(blank=True, max_length=128, null=True)),
                ("request_hash", models.CharField(blank=True, max_length=64)),
                (
                    "initiator",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "reverses",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=deletion.PROTECT,
                        related_name="+",
                        to="accounts.transferkey",
                    ),
                ),
            ],
            options={
                "verbose_name": "transfer key",
                "verbose_name_plural": "transfer keys",
                "constraints": [
                    models.UniqueConstraint(
                        condition=Q(idempotency_key__isnull=False),
                        fields=("initiator", "idempotency_key"),
                        name="transfer_idempotency_key_per_initiator",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RunSQL(PARTITION_FUNCTIONS_SQL, PARTITION_FUNCTIONS_DROP_SQL),
        migrations.RunSQL(PARTITION_SQL, UNPARTITION_SQL),
        migrations.RunSQL(
            LEDGER_TRANSFER_SQL + LEDGER_TRANSFER_BATCH_SQL,
            _on_transfer_table(LEDGER_TRANSFER_SQL + LEDGER_TRANSFER_BATCH_SQL),
        ),
    ]
