"""Webhooks: configuration contract, signed deliveries to a local server, retries, redelivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from merchants.models import DeliveryStatus, Merchant, WebhookAttempt, WebhookDelivery
from merchants.services import webhooks as webhooks_service
from merchants.services.webhooks import RETRY_DELAYS_S, webhook_delivery_attempt
from merchants.tasks import webhook_deliver_due
from tests.conftest import GuardWindow, run_threads
from tests.merchants.conftest import Greenfield, Receiver, problems, store_url

pytestmark = pytest.mark.django_db

EVENT_SCHEMAS = {
    "InvoiceCreated": "WebhookInvoiceEvent",
    "InvoiceReceivedPayment": "WebhookInvoiceReceivedPaymentEvent",
    "InvoicePaymentSettled": "WebhookInvoicePaymentSettledEvent",
    "InvoiceProcessing": "WebhookInvoiceProcessingEvent",
    "InvoiceExpired": "WebhookInvoiceExpiredEvent",
    "InvoiceSettled": "WebhookInvoiceSettledEvent",
    "InvoiceInvalid": "WebhookInvoiceInvalidEvent",
}


def add_webhook(api: APIClient, merchant: Merchant, url: str, **extra: Any) -> dict[str, Any]:
    response = api.post(store_url(merchant, "webhooks"), {"url": url, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def verify(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    """Check the signature the way a merchant would, independently of the bank's code."""
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["BTCPay-Sig"], expected)
    return json.loads(request["body"])


def test_webhook_crud_contract(api: APIClient, merchant: Merchant, greenfield: Greenfield) -> None:
    created = add_webhook(
        api,
        merchant,
        "https://shop.example/hook",
        authorizedEvents={"everything": False, "specificEvents": ["InvoiceSettled"]},
    )
    greenfield.validate(created, "WebhookDataCreateResult")
    assert len(created["secret"]) >= 20
    listed = api.get(store_url(merchant, "webhooks")).json()
    greenfield.validate(listed, "WebhookDataList")
    assert listed[0]["id"] == created["id"] and "secret" not in listed[0]
    url = store_url(merchant, f"webhooks/{created['id']}")
    one = api.get(url).json()
    greenfield.validate(one, "WebhookData")
    updated = api.put(
        url,
        {"url": "https://shop.example/v2", "enabled": False, "automaticRedelivery": False},
        format="json",
    )
    assert updated.status_code == 200
    greenfield.validate(updated.json(), "WebhookData")
    assert updated.json()["enabled"] is False and updated.json()["url"].endswith("/v2")
    assert api.get(f"/api/v1/webhooks/{created['id']}").json() == updated.json()
    assert api.delete(url).status_code == 200
    assert api.get(url).status_code == 404


@pytest.mark.parametrize(
    "url", ["ftp://x.example/h", "file:///etc/passwd", "javascript:x", "/relative", "http://"]
)
def test_webhook_refuses_non_http_urls(api: APIClient, merchant: Merchant, url: str) -> None:
    response = api.post(store_url(merchant, "webhooks"), {"url": url}, format="json")
    assert response.status_code == 422
    assert "url" in problems(response)
    assert response.json()[0]["code"] == "webhook-url-invalid"


def test_webhook_rejects_unknown_events(api: APIClient, merchant: Merchant) -> None:
    response = api.post(
        store_url(merchant, "webhooks"),
        {
            "url": "https://x.example",
            "authorizedEvents": {"everything": False, "specificEvents": ["Nope"]},
        },
        format="json",
    )
    assert response.status_code == 422


def test_other_merchants_webhooks_are_404(
    api: APIClient,
    merchant: Merchant,
    make_merchant: Callable[..., Merchant],
    make_client: Callable[..., APIClient],
) -> None:
    hook = add_webhook(api, merchant, "https://shop.example/hook")
    other = make_merchant("Rival")
    rival = make_client(other)
    assert rival.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    assert rival.get(store_url(other, f"webhooks/{hook['id']}")).status_code == 404
    assert rival.delete(store_url(other, f"webhooks/{hook['id']}")).status_code == 404
    assert rival.get(store_url(other, f"webhooks/{hook['id']}/deliveries")).status_code == 404


def test_events_are_signed_delivered_and_match_greenfield(
    api: APIClient,
    merchant: Merchant,
    receiver: Receiver,
    greenfield: Greenfield,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    hook = add_webhook(api, merchant, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = api.post(
            store_url(merchant, "invoices"),
            {"amount": "0.001", "metadata": {"orderId": "o-7"}},
            format="json",
        ).json()
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            store_url(merchant, f"invoices/{invoice['id']}/status"),
            {"status": "Settled"},
            format="json",
        )
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            store_url(merchant, f"invoices/{invoice['id']}/status"),
            {"status": "Invalid"},
            format="json",
        )
    assert len(receiver.requests) == 3
    bodies = [verify(hook["secret"], r) for r in receiver.requests]
    assert [b["type"] for b in bodies] == ["InvoiceCreated", "InvoiceSettled", "InvoiceInvalid"]
    for body in bodies:
        greenfield.validate(body, EVENT_SCHEMAS[body["type"]])
        assert body["storeId"] == merchant.store_id and body["invoiceId"] == invoice["id"]
        assert body["metadata"] == {"orderId": "o-7"} and body["webhookId"] == hook["id"]
        assert body["isRedelivery"] is False and body["originalDeliveryId"] == body["deliveryId"]
    assert bodies[1]["manuallyMarked"] is True and bodies[1]["overPaid"] is False
    assert bodies[2]["manuallyMarked"] is True
    assert receiver.requests[0]["headers"]["Content-Type"] == "application/json"
    deliveries = api.get(store_url(merchant, f"webhooks/{hook['id']}/deliveries")).json()
    greenfield.validate(deliveries, "WebhookDeliveryList")
    assert [d["status"] for d in deliveries] == ["HttpSuccess"] * 3
    assert deliveries[0]["attempts"][0]["httpCode"] == 200
    request = api.get(
        store_url(merchant, f"webhooks/{hook['id']}/deliveries/{bodies[0]['deliveryId']}/request")
    ).json()
    assert request == bodies[0]


def test_specific_events_only(
    api: APIClient,
    merchant: Merchant,
    receiver: Receiver,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_webhook(
        api,
        merchant,
        receiver.url,
        authorizedEvents={"everything": False, "specificEvents": ["InvoiceInvalid"]},
    )
    with django_capture_on_commit_callbacks(execute=True):
        invoice = api.post(
            store_url(merchant, "invoices"), {"amount": "0.001"}, format="json"
        ).json()
        api.post(
            store_url(merchant, f"invoices/{invoice['id']}/status"),
            {"status": "Invalid"},
            format="json",
        )
    assert [json.loads(r["body"])["type"] for r in receiver.requests] == ["InvoiceInvalid"]


def test_failed_delivery_is_retried_with_backoff_and_logged(
    api: APIClient,
    merchant: Merchant,
    receiver: Receiver,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_webhook(api, merchant, receiver.url)
    receiver.statuses = [500, 503]  # then 200
    with django_capture_on_commit_callbacks(execute=True):
        api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    # Eager Celery runs the retries at once, so the countdowns are checked on the rows.
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.HTTP_SUCCESS and delivery.attempt_count == 3
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert all(a.response_ms >= 0 for a in attempts)
    assert len(receiver.requests) == 3
    assert len({r["body"] for r in receiver.requests}) == 1  # the same bytes every time


def test_backoff_schedule_and_final_failure(
    merchant: Merchant, api: APIClient, loopback_webhooks: None
) -> None:
    add_webhook(api, merchant, "http://127.0.0.1:9/unreachable")  # discard port: refused
    api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    delivery = WebhookDelivery.objects.get()
    waits = []
    while (wait := webhook_delivery_attempt(delivery_id=delivery.pk)) is not None:
        waits.append(wait)
    assert waits == list(RETRY_DELAYS_S) == [10, 60, 600, 600, 600, 600, 600, 600]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 9
    assert delivery.http_code is None and "Connection" in delivery.error_message
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None  # finished: no more


def test_no_retry_when_automatic_redelivery_is_off(
    api: APIClient, merchant: Merchant, receiver: Receiver
) -> None:
    add_webhook(api, merchant, receiver.url, automaticRedelivery=False)
    receiver.statuses = [500]
    api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    delivery = WebhookDelivery.objects.get()
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.http_code) == (DeliveryStatus.HTTP_ERROR, 500)


def test_redelivery(
    api: APIClient,
    merchant: Merchant,
    receiver: Receiver,
    greenfield: Greenfield,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    hook = add_webhook(api, merchant, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    first = verify(hook["secret"], receiver.requests[0])
    url = store_url(merchant, f"webhooks/{hook['id']}/deliveries/{first['deliveryId']}/redeliver")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url)
    assert response.status_code == 200
    new_id = response.json()
    assert isinstance(new_id, str) and new_id != first["deliveryId"]
    again = verify(hook["secret"], receiver.requests[1])
    greenfield.validate(again, "WebhookInvoiceEvent")
    assert again["deliveryId"] == new_id and again["isRedelivery"] is True
    assert again["originalDeliveryId"] == first["deliveryId"]
    assert again["invoiceId"] == first["invoiceId"] and again["type"] == first["type"]
    missing = api.post(store_url(merchant, f"webhooks/{hook['id']}/deliveries/nope/redeliver"))
    assert missing.status_code == 404


def test_rolled_back_change_sends_nothing(
    api: APIClient,
    merchant: Merchant,
    receiver: Receiver,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_webhook(api, merchant, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        bad = api.post(store_url(merchant, "invoices"), {"amount": "-1"}, format="json")
    assert bad.status_code == 422
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_private_targets_refused_in_production(
    api: APIClient, merchant: Merchant, receiver: Receiver, settings: Any
) -> None:
    settings.MERCHANT_WEBHOOK_ALLOW_PRIVATE = False
    add_webhook(api, merchant, receiver.url, automaticRedelivery=False)
    api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    delivery = WebhookDelivery.objects.get()
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "non-public address (127.0.0.1)" in delivery.error_message
    assert receiver.requests == []  # nothing was sent


def test_in_bank_payment_events(
    api: APIClient,
    merchant: Merchant,
    receiver: Receiver,
    greenfield: Greenfield,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
    make_user: Callable[..., Any],
    funded_account: Callable[..., Any],
) -> None:
    from django.utils import timezone

    from merchants.services.payments import invoice_pay_in_bank

    hook = add_webhook(api, merchant, receiver.url)
    invoice = api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json").json()
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_pay_in_bank(invoice_id=invoice["id"], payer=customer, account_id=wallet.pk)
    bodies = [verify(hook["secret"], r) for r in receiver.requests]
    assert [b["type"] for b in bodies] == [
        "InvoiceReceivedPayment",
        "InvoicePaymentSettled",
        "InvoiceSettled",
    ]
    for body in bodies:
        greenfield.validate(body, EVENT_SCHEMAS[body["type"]])
    assert bodies[0]["paymentMethodId"] == "BTC-ALATAU" and bodies[0]["afterExpiration"] is False
    assert bodies[0]["payment"]["value"] == "0.00100000"
    assert bodies[2]["manuallyMarked"] is False and bodies[2]["overPaid"] is False


@pytest.mark.faults
def test_overdue_delivery_whose_task_was_lost_is_picked_up(
    api: APIClient, merchant: Merchant, receiver: Receiver, celery_eager: None
) -> None:
    add_webhook(api, merchant, receiver.url)
    # The invoice commits its delivery row, but its on-commit enqueue never runs here:
    # the task is lost, as when the broker restarts between commit and publish.
    api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    api.post(store_url(merchant, "invoices"), {"amount": "0.002"}, format="json")
    lost, recent = WebhookDelivery.objects.order_by("created_at")
    assert webhook_deliver_due.apply().get() == 0  # both still within the grace period
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert webhook_deliver_due.apply().get() == 1  # the sweep re-enqueues the overdue one
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert (lost.status, lost.attempt_count) == (DeliveryStatus.HTTP_SUCCESS, 1)
    assert (recent.status, recent.attempt_count) == (DeliveryStatus.PENDING, 0)
    assert [verify(lost.webhook.secret, r)["invoiceId"] for r in receiver.requests] == [
        lost.invoice_id
    ]
    assert webhook_deliver_due.apply().get() == 0  # delivered: never again


@pytest.mark.django_db(transaction=True)
def test_one_attempt_is_claimed_by_one_of_two_workers(
    api: APIClient, merchant: Merchant, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = _unsent_delivery(api, merchant, receiver, monkeypatch)
    # The first worker to claim waits, before it writes its claim, until the other one has
    # claimed too or given up: with the row lock the other skips the locked row; without
    # it both read the attempt as unclaimed and send it twice.
    window = GuardWindow(2)
    save = WebhookDelivery.save

    def claim_save(self: WebhookDelivery, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("update_fields") == ["attempt_count", "claimed_until"]:
            window.enter()
        save(self, *args, **kwargs)

    monkeypatch.setattr(WebhookDelivery, "save", claim_save)

    def attempt(_: int) -> int | None:
        return window.run(lambda: webhook_delivery_attempt(delivery_id=delivery.pk))

    assert run_threads(2, attempt) == [None, None]
    assert window.entered == 1
    _delivered_once(delivery, receiver)


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_leaves_an_attempt_in_flight_alone(
    api: APIClient, merchant: Merchant, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = _unsent_delivery(api, merchant, receiver, monkeypatch)
    receiver.hold = threading.Event()  # the first worker's POST waits until the other gave up

    def work(i: int) -> int | None:
        if i == 0:
            return webhook_delivery_attempt(delivery_id=delivery.pk)
        # A duplicate task, once the first worker's claim is committed and its POST is out:
        # the lease (claimed_until) must turn it away.
        assert receiver.arrived.wait(60), "the first worker never sent its POST"
        try:
            return webhook_delivery_attempt(delivery_id=delivery.pk)
        finally:
            receiver.hold.set()  # type: ignore[union-attr]

    assert run_threads(2, work) == [None, None]
    _delivered_once(delivery, receiver)


def _unsent_delivery(
    api: APIClient, merchant: Merchant, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> WebhookDelivery:
    """This test's one delivery, pending and unclaimed, with no task started for it.

    The invoice's on-commit enqueue is dropped: with Celery left eager by another test
    (tests/notifications did), the task ran at commit and delivered the event before the
    workers under test started, so they raced over nothing and the race tests passed (or
    found ``entered == 0``) whatever the claim did. The workers here are the only senders.
    """
    monkeypatch.setattr(webhooks_service, "_enqueue", lambda delivery_id: None)
    hook = add_webhook(api, merchant, receiver.url)
    api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    delivery = WebhookDelivery.objects.get(webhook_id=hook["id"])
    assert (delivery.status, delivery.attempt_count, delivery.claimed_until) == (
        DeliveryStatus.PENDING, 0, None,
    )  # fmt: skip
    assert receiver.requests == []
    return delivery


def _delivered_once(delivery: WebhookDelivery, receiver: Receiver) -> None:
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.HTTP_SUCCESS, 1)
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1
    assert len(receiver.requests) == 1
