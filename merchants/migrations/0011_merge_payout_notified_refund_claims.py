"""Join the two 0010 branches (payout notified_state; refund-claim KZT buy-back)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0010_payout_notified_state"),
        ("merchants", "0010_refund_kzt_exchange_payouts"),
    ]
    operations: list = []
