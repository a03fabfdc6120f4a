"""Greenfield store payouts, data: each row's store, and a row for every older on-chain payout.

Apart from the schema changes (0006, 0008): PostgreSQL refuses DDL on a table with
pending trigger events from rows written in the same transaction."""

import secrets

from django.db import migrations

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def merchant_from_pull_payment(apps, schema_editor):
    payouts = apps.get_model("merchants", "PullPaymentPayout")
    for row in payouts.objects.filter(merchant__isnull=True).select_related("pull_payment"):
        row.merchant_id = row.pull_payment.merchant_id
        row.save(update_fields=["merchant"])


def greenfield_rows_for_older_payouts(apps, schema_editor):
    """Every on-chain payout made before this migration gets its Greenfield payout row."""
    payouts = apps.get_model("merchants", "Payout")
    rows = apps.get_model("merchants", "PullPaymentPayout")
    for payout in payouts.objects.filter(kind="OnChain", claim__isnull=True).iterator():
        rows.objects.create(
            id="".join(secrets.choice(ALPHABET) for _ in range(22)),
            merchant_id=payout.merchant_id,
            destination=payout.address,
            amount_sats=payout.amount_sats,
            state="AwaitingPayment",
            payout_id=payout.pk,
        )


class Migration(migrations.Migration):
    dependencies = [("merchants", "0006_greenfield_store_payouts")]

    operations = [
        migrations.RunPython(merchant_from_pull_payment, migrations.RunPython.noop),
        migrations.RunPython(greenfield_rows_for_older_payouts, migrations.RunPython.noop),
    ]
