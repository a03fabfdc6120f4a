"""Greenfield store payouts: a payout row for every on-chain payout, pull payment windows."""

import django.db.models.deletion
from django.db import migrations, models


def merchant_from_pull_payment(apps, schema_editor):
    payouts = apps.get_model("merchants", "PullPaymentPayout")
    for row in payouts.objects.filter(merchant__isnull=True).select_related("pull_payment"):
        row.merchant_id = row.pull_payment.merchant_id
        row.save(update_fields=["merchant"])


class Migration(migrations.Migration):
    dependencies = [("merchants", "0005_merge_i18n")]

    operations = [
        migrations.AddField(
            model_name="pullpayment",
            name="starts_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pullpayment",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pullpaymentpayout",
            name="merchant",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="greenfield_payouts",
                to="merchants.merchant",
            ),
        ),
        migrations.RunPython(merchant_from_pull_payment, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="pullpaymentpayout",
            name="merchant",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="greenfield_payouts",
                to="merchants.merchant",
            ),
        ),
        migrations.AlterField(
            model_name="pullpaymentpayout",
            name="pull_payment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payouts",
                to="merchants.pullpayment",
            ),
        ),
        migrations.AddField(
            model_name="pullpaymentpayout",
            name="metadata",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="pullpaymentpayout",
            name="payment_proof",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pullpaymentpayout",
            name="travel_rule",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
