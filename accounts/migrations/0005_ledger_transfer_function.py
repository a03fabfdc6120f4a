"""One-round-trip posting: the lock, checks, insert, balance update and audit in SQL.

``accounts.services.transfers.transfer_create`` validates its input in Python
and then calls this function, which does under the account locks exactly what
the Python posting primitives do (see ``accounts/services/posting.py``), so a
transfer costs one statement instead of six. Errors come back as a status
word and nothing is written; the service maps them to its typed errors.
"""

from django.db import migrations

from accounts.ledger_sql import LEDGER_TRANSFER_SQL as FUNCTION



class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_web_banking"), ("compliance", "0002_audit_guards")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS ledger_transfer;"),
    ]
