"""The invoice create and read paths made lean (issue 18) store and answer what they did."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from audit.models import AuditEvent
from exchange.services import exchange_rate_set
from merchants.models import Invoice, Merchant, WebhookDelivery
from merchants.services.invoices import invoice_create
from merchants.services.webhooks import webhook_create
from tests.merchants.conftest import store_url

pytestmark = pytest.mark.django_db

BODY = {
    "amount": "0.00150000",
    "metadata": {"orderId": "L-1", "itemDesc": "Tea \u2028 cup"},
    "checkout": {"paymentTolerance": 1.5, "redirectURL": "https://shop.example/o/L-1"},
}


def test_the_insert_without_the_orm_stores_every_field(merchant: Merchant) -> None:
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    invoice = invoice_create(
        merchant=merchant,
        amount="25000.00",
        currency="KZT",
        metadata={"orderId": "L-2", "nested": {"a": [1, 2]}},
        checkout={"speedPolicy": "HighSpeed", "expirationMinutes": 30},
        actor=merchant.owner,
    )
    stored = Invoice.objects.get(pk=invoice.pk)
    assert not invoice._state.adding
    assert invoice.created_at is not None and invoice.status_changed_at is not None
    for field in Invoice._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(invoice, field.attname), field.name
    assert stored.metadata == {"orderId": "L-2", "nested": {"a": [1, 2]}}
    assert stored.order_id == "L-2" and stored.speed_policy == "HighSpeed"


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"].strip()
        for q in queries.captured_queries
        if not q["sql"].lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@pytest.mark.parametrize("webhooks", [0, 2])
def test_the_invoice_its_deliveries_and_its_audit_event_are_one_statement(
    merchant: Merchant, webhooks: int, django_capture_on_commit_callbacks: Any
) -> None:
    """One statement is atomic on its own: no BEGIN/COMMIT round trips, and the audit chain's
    head is locked for that statement only (test_invoice_atomic.py breaks it mid-way)."""
    for n in range(webhooks):
        webhook_create(
            merchant=merchant, url=f"https://shop.example/hook/{n}", secret=None,
            actor=merchant.owner,
        )  # fmt: skip
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as sent:
        invoice = invoice_create(
            merchant=merchant, amount="0.001", currency="BTC", actor=merchant.owner
        )
    statements = _statements(queries)
    assert len(statements) == 2, statements
    assert statements[0].startswith('SELECT "id", "merchant_id", "url"')  # the webhooks
    assert statements[1].startswith('WITH change0 AS (INSERT INTO "merchants_invoice"')
    assert statements[1].count('INSERT INTO "merchants_webhookdelivery"') == webhooks
    assert "audit_append" in statements[1]
    event = AuditEvent.objects.filter(action="invoice.create", object_id=invoice.pk).get()
    assert event.data["amount_minor"] == 100_000
    assert Invoice.objects.filter(pk=invoice.pk).exists() and not invoice._state.adding
    deliveries = WebhookDelivery.objects.filter(invoice=invoice, event_type="InvoiceCreated")
    assert deliveries.count() == webhooks == len(sent)  # one task each, after the write
    for delivery in deliveries:
        body = json.loads(delivery.body)
        assert (body["invoiceId"], body["deliveryId"], body["type"]) == (
            invoice.pk, delivery.pk, "InvoiceCreated",
        )  # fmt: skip


def test_api_bytes_are_drf_json_renderer_bytes(api: APIClient, merchant: Merchant) -> None:
    created = api.post(store_url(merchant, "invoices"), BODY, format="json")
    assert created.status_code == 200
    assert created.content == JSONRenderer().render(created.data)
    assert b'"paymentTolerance":1.5' in created.content  # a Decimal, as DRF wrote it
    assert b"\\u2028" in created.content
    read = api.get(store_url(merchant, f"invoices/{created.json()['id']}"))
    assert read.content == JSONRenderer().render(read.data)
    assert read.json() == created.json()


def test_read_is_one_query(api: APIClient, merchant: Merchant) -> None:
    invoice_id = api.post(store_url(merchant, "invoices"), BODY, format="json").json()["id"]
    with CaptureQueriesContext(connection) as queries:
        assert api.get(store_url(merchant, f"invoices/{invoice_id}")).status_code == 200
    assert len(queries.captured_queries) == 1, [q["sql"][:80] for q in queries]


def test_idempotent_create_still_replays(api: APIClient, merchant: Merchant) -> None:
    """No body hash without a key; with one, the same request answers the first result."""
    url = store_url(merchant, "invoices")
    first = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="lean-1")
    again = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="lean-1")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other: dict[str, Any] = {**BODY, "amount": "0.002"}
    assert api.post(url, other, format="json", HTTP_IDEMPOTENCY_KEY="lean-1").status_code == 409
    assert Invoice.objects.filter(merchant=merchant).count() == 1


def test_checkout_link_is_reverses_path_under_any_script_prefix(merchant: Merchant) -> None:
    from django.urls import get_script_prefix, reverse, set_script_prefix

    from merchants.presenters import checkout_link, public_url

    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC", actor=None)
    before = get_script_prefix()
    try:
        for prefix in ("/", "/bank/", "/"):
            set_script_prefix(prefix)
            expected = public_url(reverse("merchants:checkout", args=[invoice.id]))
            assert checkout_link(invoice) == expected
            assert expected.endswith(f"{prefix}i/{invoice.id}")
    finally:
        set_script_prefix(before)
