"""The broker (Redis) goes down after a change committed, then comes back: nothing is lost."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from bank.celery import app as celery_app
from merchants.models import DeliveryStatus, Merchant, WebhookDelivery
from merchants.tasks import webhook_deliver_due
from tests.merchants.conftest import Receiver, store_url
from tests.merchants.test_webhooks import add_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.faults]


@contextlib.contextmanager
def broker_down() -> Iterator[None]:
    """Point Celery at a port where nothing listens (the broker is down), then restore."""
    before, eager = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    _new_pool()
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # type: ignore[misc]
    celery_app.conf.task_always_eager = False  # publishing must really try the broker
    try:
        yield
    finally:
        celery_app.conf.broker_url = before  # type: ignore[misc]
        celery_app.conf.task_always_eager = eager
        _new_pool()


def _new_pool() -> None:
    """Drop the producer pool so the next publish connects to the broker URL in force."""
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]


def test_a_webhook_emitted_while_the_broker_is_down_is_delivered_once_it_is_back(
    api: APIClient, merchant: Merchant, receiver: Receiver, celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    add_webhook(api, merchant, receiver.url)
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        response = api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    assert response.status_code == 200  # the request finished although the broker was down
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.PENDING, 0)
    assert receiver.requests == []
    # The broker is back; later the periodic sweep re-sends what is still pending.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=delivery.created_at.replace(year=2000)
    )
    assert webhook_deliver_due() == 1  # eager here: the task runs at once
    assert webhook_deliver_due() == 0  # delivered: nothing left to send again
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.HTTP_SUCCESS
    assert len(receiver.requests) == 1
    call_command("ledger_check")
