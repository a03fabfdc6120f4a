"""An invoice and its audit event are written together or not at all, with no transaction open.

Without webhooks, ``invoice_create`` sends the INSERT and the audit append as one statement
(``audit_record(with_change=...)``) in autocommit. Here the append cannot take the audit
chain head's row lock (another writer holds it past ``lock_timeout``): the statement fails,
and fails whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection

from audit.chain import audit_verify
from audit.models import AuditEvent
from merchants.models import Invoice, Merchant
from merchants.services.invoices import invoice_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def chain_head_held() -> Iterator[psycopg.Connection]:
    """Another connection holding the audit chain head's row lock, as a writer mid-commit."""
    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        dbname=db["NAME"],
    )  # fmt: skip
    other.execute("SELECT 1 FROM compliance_auditchainhead WHERE id = 1 FOR UPDATE")
    try:
        yield other
    finally:
        other.close()


def test_an_invoice_whose_audit_append_fails_is_not_written(
    merchant: Merchant, chain_head_held: psycopg.Connection
) -> None:
    assert connection.get_autocommit()  # no transaction of the test's around the call
    events_before = AuditEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        with pytest.raises(OperationalError, match="lock timeout"):
            invoice_create(merchant=merchant, amount="0.001", currency="BTC", actor=None)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert not Invoice.objects.filter(merchant=merchant).exists()
    assert AuditEvent.objects.count() == events_before
    chain_head_held.rollback()  # the other writer finishes
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC", actor=None)
    assert list(Invoice.objects.filter(merchant=merchant).values_list("pk", flat=True)) == [
        invoice.pk
    ]
    assert AuditEvent.objects.filter(action="invoice.create", object_id=invoice.pk).count() == 1
    assert audit_verify() == []
    call_command("ledger_check")
