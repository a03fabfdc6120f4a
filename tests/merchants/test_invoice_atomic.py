"""An invoice and its audit event are written together or not at all, with no transaction open.

``invoice_create`` sends the invoice's INSERT, one per webhook delivery and the audit append
as one statement (``audit_record(with_change=...)``) in autocommit. Here the append cannot take the audit
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
from merchants.models import Invoice, Merchant, WebhookDelivery
from merchants.services import webhooks as webhook_services
from merchants.services.invoices import invoice_create
from merchants.services.webhooks import webhook_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def other_writer() -> Iterator[psycopg.Connection]:
    """Another connection, to hold the audit chain head's row lock as a writer mid-commit."""
    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        dbname=db["NAME"],
    )  # fmt: skip
    try:
        yield other
    finally:
        other.close()


@pytest.mark.parametrize("webhooks", [0, 1])
def test_an_invoice_whose_audit_append_fails_is_not_written(
    merchant: Merchant, other_writer: psycopg.Connection, webhooks: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    sent: list[str] = []  # the delivery tasks asked for (not sent: no receiver here)
    monkeypatch.setattr(webhook_services, "_enqueue", sent.append)
    for n in range(webhooks):
        webhook_create(
            merchant=merchant, url=f"https://shop.example/hook/{n}", secret=None, actor=None
        )
    other_writer.execute("SELECT 1 FROM compliance_auditchainhead WHERE id = 1 FOR UPDATE")
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
    assert not WebhookDelivery.objects.exists() and sent == []
    assert AuditEvent.objects.count() == events_before
    other_writer.rollback()  # the other writer finishes
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC", actor=None)
    assert list(Invoice.objects.filter(merchant=merchant).values_list("pk", flat=True)) == [
        invoice.pk
    ]
    assert AuditEvent.objects.filter(action="invoice.create", object_id=invoice.pk).count() == 1
    delivered = list(WebhookDelivery.objects.filter(invoice=invoice).values_list("pk", flat=True))
    assert len(delivered) == webhooks and sent == delivered
    assert audit_verify() == []
    call_command("ledger_check")
