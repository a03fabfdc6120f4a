"""Greenfield store payouts: every payout row names its store."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("merchants", "0007_greenfield_payout_rows")]

    operations = [
        migrations.AlterField(
            model_name="pullpaymentpayout",
            name="merchant",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="greenfield_payouts",
                to="merchants.merchant",
            ),
        ),
    ]
