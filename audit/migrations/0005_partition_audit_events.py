"""Partition the audit events by month (``audit/partitions.py``).

Rebuilds ``compliance_auditevent`` as a table partitioned by range of ``created_at``
(one partition per UTC month), moves the existing rows, and recreates the keys, indexes,
the foreign key to the actor and the immutability guards. Reversible: the reverse
rebuilds the unpartitioned table around the same rows. Django's model state does not
change (it knows nothing of partitions).
"""

from django.db import migrations

from audit.partitions import (
    PARTITION_FUNCTIONS_DROP_SQL,
    PARTITION_FUNCTIONS_SQL,
    PARTITION_SQL,
    UNPARTITION_SQL,
)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_audit_append_many")]

    operations = [
        migrations.RunSQL(PARTITION_FUNCTIONS_SQL, PARTITION_FUNCTIONS_DROP_SQL),
        migrations.RunSQL(PARTITION_SQL, UNPARTITION_SQL),
    ]
