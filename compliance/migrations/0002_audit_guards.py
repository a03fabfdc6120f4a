"""The audit chain head row and the append-only trigger on audit events."""

from django.db import migrations

AUDIT_TRIGGER = """
CREATE TRIGGER compliance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION alatau_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial"), ("accounts", "0002_ledger_guards")]

    operations = [
        migrations.RunSQL(
            "INSERT INTO compliance_auditchainhead (id, seq, last_hash, prev_hash) "
            "VALUES (1, 0, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex')) "
            "ON CONFLICT (id) DO NOTHING;",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            AUDIT_TRIGGER,
            "DROP TRIGGER IF EXISTS compliance_auditevent_append_only ON compliance_auditevent;",
        ),
    ]
