"""Create the bank's system accounts (the same service as ``manage.py ledger_setup``)."""

from django.db import migrations


def create_system_accounts(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Historical models cannot call services; write the rows directly, with the
    # same IBAN scheme, and audit nothing (the chain records live actions only).
    from django.conf import settings
    from schwifty import IBAN

    Account = apps.get_model("accounts", "Account")
    kinds = {
        "BTC": ["custody_hot", "custody_cold", "in_transit", "fees", "exchange", "suspense", "external"],
        "KZT": ["fees", "exchange", "suspense", "external"],
    }
    with schema_editor.connection.cursor() as cursor:
        for currency, names in kinds.items():
            for kind in names:
                if Account.objects.filter(owner__isnull=True, kind=kind, currency=currency).exists():
                    continue
                cursor.execute("SELECT nextval('accounts_account_number_seq')")
                number = IBAN.generate(
                    "KZ", bank_code=settings.BANK_IBAN_CODE, account_code=f"{cursor.fetchone()[0]:013d}"
                )
                Account.objects.create(
                    number=str(number), currency=currency, kind=kind, name=f"{kind} {currency}"
                )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_ledger_guards"), ("compliance", "0002_audit_guards")]

    operations = [migrations.RunPython(create_system_accounts, migrations.RunPython.noop)]
