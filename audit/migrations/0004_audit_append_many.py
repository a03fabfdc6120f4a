"""Install ``audit_append_many``: the chain append for many events (``audit/sql.py``)."""

from django.db import migrations

from audit.sql import AUDIT_APPEND_MANY_DROP_SQL, AUDIT_APPEND_MANY_SQL


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_refuse_truncate")]

    operations = [migrations.RunSQL(AUDIT_APPEND_MANY_SQL, AUDIT_APPEND_MANY_DROP_SQL)]
