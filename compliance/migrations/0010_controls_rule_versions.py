"""Rule versions: every change to a screening rule is kept with the moment it took effect.

A trigger on ``compliance_ruleconfig`` appends a ``compliance_ruleconfigversion`` row on
every insert and on every update that changes the switch or the thresholds, whoever
wrote it (the four-eyes executor, a migration, a shell), at the database's clock. The
executor names its approval in the transaction-local setting ``alatau.rule_approval``;
a change without it is recorded with no approval, and shows as such. The versions are
append-only (UPDATE, DELETE and TRUNCATE refused, as for the ledger and the audit log).
The rows that exist now become the first versions, in force since their last change.
"""

import django.db.models.deletion
from django.db import migrations, models

VERSION_FN = """
CREATE OR REPLACE FUNCTION compliance_ruleconfig_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.name = OLD.name AND NEW.enabled = OLD.enabled
       AND NEW.params::jsonb = OLD.params::jsonb THEN
        RETURN NEW;
    END IF;
    INSERT INTO compliance_ruleconfigversion (name, enabled, params, effective_at, approval_id)
    VALUES (NEW.name, NEW.enabled, NEW.params, clock_timestamp(),
            NULLIF(current_setting('alatau.rule_approval', true), '')::bigint);
    RETURN NEW;
END;
$$;
"""

FIRST_VERSIONS = """
INSERT INTO compliance_ruleconfigversion (name, enabled, params, effective_at, approval_id)
SELECT name, enabled, params, updated_at, NULL FROM compliance_ruleconfig;
"""

TRIGGERS = [
    (
        "CREATE TRIGGER compliance_ruleconfig_versioned AFTER INSERT OR UPDATE "
        "ON compliance_ruleconfig FOR EACH ROW EXECUTE FUNCTION compliance_ruleconfig_version();",
        "DROP TRIGGER IF EXISTS compliance_ruleconfig_versioned ON compliance_ruleconfig;",
    ),
    (
        "CREATE TRIGGER compliance_ruleconfigversion_append_only BEFORE UPDATE OR DELETE "
        "ON compliance_ruleconfigversion FOR EACH ROW EXECUTE FUNCTION alatau_refuse_change();",
        "DROP TRIGGER IF EXISTS compliance_ruleconfigversion_append_only "
        "ON compliance_ruleconfigversion;",
    ),
    (
        "CREATE TRIGGER compliance_ruleconfigversion_no_truncate BEFORE TRUNCATE "
        "ON compliance_ruleconfigversion FOR EACH STATEMENT "
        "EXECUTE FUNCTION alatau_refuse_truncate();",
        "DROP TRIGGER IF EXISTS compliance_ruleconfigversion_no_truncate "
        "ON compliance_ruleconfigversion;",
    ),
]


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0009_ledger_corrections'),
        ('accounts', '0002_ledger_guards'),
        ('audit', '0003_refuse_truncate'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='staffpermission',
            options={'default_permissions': (), 'managed': False, 'permissions': [('review_kyc', 'Approve or reject identity (KYC) submissions'), ('view_kyc_document', "Open customers' identity documents"), ('freeze_account', 'Freeze a customer account'), ('unfreeze_account', 'Unfreeze a customer account (four eyes)'), ('work_case', 'Assign, annotate, escalate and close cases'), ('manage_rules', 'Change screening rule settings'), ('manage_sanctions', 'Maintain and import the sanctions list'), ('change_limits', 'Propose and approve tier limit changes (four eyes)'), ('approve_cold_move', 'Propose and approve cold-wallet moves (four eyes)'), ('view_reports', 'Download compliance and finance reports'), ('correct_ledger', 'Propose and approve ledger corrections (four eyes)'), ('manage_staff', 'Propose and approve staff role changes (four eyes)')]},
        ),
        migrations.CreateModel(
            name='RuleConfigVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64)),
                ('enabled', models.BooleanField()),
                ('params', models.JSONField(default=dict)),
                ('effective_at', models.DateTimeField()),
                ('approval', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='compliance.approvalrequest')),
            ],
            options={
                'verbose_name': 'screening rule version',
                'ordering': ['name', '-effective_at'],
                'default_permissions': ('view',),
                'indexes': [models.Index(fields=['name', 'effective_at'], name='compliance__name_92982d_idx')],
            },
        ),
        migrations.RunSQL(FIRST_VERSIONS, migrations.RunSQL.noop),
        migrations.RunSQL(VERSION_FN, "DROP FUNCTION IF EXISTS compliance_ruleconfig_version() CASCADE;"),
        *[migrations.RunSQL(sql, reverse) for sql, reverse in TRIGGERS],
    ]
