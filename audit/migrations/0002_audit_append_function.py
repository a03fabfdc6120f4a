"""Install ``audit_append``: the one definition of the chain append (``audit/sql.py``)."""

from django.db import migrations

from audit.sql import AUDIT_APPEND_DROP_SQL, AUDIT_APPEND_SQL


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(AUDIT_APPEND_SQL, AUDIT_APPEND_DROP_SQL)]
