"""Greenfield store payouts: schema (a payout row may have no pull payment; windows)."""

import django.db.models.deletion
from django.db import migrations, models


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
