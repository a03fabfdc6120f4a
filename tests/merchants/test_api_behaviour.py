"""Cross-cutting API behaviour: idempotency keys, rate limits, the error shape, key pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from merchants.models import ApiKey, IdempotencyRecord, Invoice, Merchant
from merchants.services import invoices as invoice_services
from merchants.services.idempotency import IN_PROGRESS_MAX_S
from merchants.services.keys import token_hash
from tests.merchants.conftest import problems, store_url

pytestmark = pytest.mark.django_db

BODY = {"amount": "0.00100000", "metadata": {"orderId": "idem-1"}}


def test_same_key_same_body_replays_the_first_response(api: APIClient, merchant: Merchant) -> None:
    url = store_url(merchant, "invoices")
    first = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Invoice.objects.count() == 1


def test_same_key_different_body_is_409(api: APIClient, merchant: Merchant) -> None:
    url = store_url(merchant, "invoices")
    api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = api.post(url, {**BODY, "amount": "0.002"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency-conflict"
    assert Invoice.objects.count() == 1


def test_errors_are_replayed_too_and_keys_are_per_merchant(
    api: APIClient,
    merchant: Merchant,
    make_merchant: Callable[..., Merchant],
    make_client: Callable[..., APIClient],
) -> None:
    url = store_url(merchant, "invoices")
    bad = api.post(url, {"amount": "-1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    again = api.post(url, {"amount": "-1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert bad.status_code == again.status_code == 422 and bad.json() == again.json()
    other = make_merchant("Other")
    response = make_client(other).post(
        store_url(other, "invoices"), BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert response.status_code == 200  # the same key at another store is another key
    assert IdempotencyRecord.objects.filter(key="k-3").count() == 2


def test_idempotency_on_other_posts(api: APIClient, merchant: Merchant) -> None:
    invoice_id = api.post(store_url(merchant, "invoices"), BODY, format="json").json()["id"]
    url = store_url(merchant, f"invoices/{invoice_id}/status")
    first = api.post(url, {"status": "Invalid"}, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    second = api.post(url, {"status": "Invalid"}, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert first.status_code == second.status_code == 200  # not a 409 "already invalid"
    hook = api.post(
        store_url(merchant, "webhooks"),
        {"url": "https://x.example/h"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="w-1",
    ).json()
    again = api.post(
        store_url(merchant, "webhooks"),
        {"url": "https://x.example/h"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="w-1",
    ).json()
    assert hook == again
    assert len(api.get(store_url(merchant, "webhooks")).json()) == 1


def test_bad_idempotency_key(api: APIClient, merchant: Merchant) -> None:
    response = api.post(
        store_url(merchant, "invoices"), BODY, format="json", HTTP_IDEMPOTENCY_KEY="x" * 129
    )
    assert response.status_code == 422


def test_rate_limit_per_key(
    merchant: Merchant, make_client: Callable[..., APIClient], settings: Any
) -> None:
    settings.MERCHANT_API_RATE = "3/day"  # DRF's window slides: a day outlasts any test run
    limited = make_client(merchant)
    fresh = make_client(merchant)
    url = store_url(merchant, "invoices")
    assert [limited.get(url).status_code for _ in range(3)] == [200, 200, 200]
    blocked = limited.get(url)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too-many-requests"
    assert 0 < int(blocked["Retry-After"]) <= 86_400
    assert fresh.get(url).status_code == 200  # the limit is per key


def test_malformed_json_body(api: APIClient, merchant: Merchant) -> None:
    response = api.post(
        store_url(merchant, "invoices"), "{not json", content_type="application/json"
    )
    assert problems(response)[""].startswith("JSON parse error")
    listed = api.post(store_url(merchant, "invoices"), [1, 2], format="json")
    assert "" in problems(listed)


def test_key_pages_create_show_once_and_revoke(merchant: Merchant) -> None:
    browser = Client()
    browser.force_login(merchant.owner)
    page = browser.get("/merchant/keys/")
    assert page.status_code == 200 and merchant.store_id in page.content.decode()
    response = browser.post(
        "/merchant/keys/",
        {
            "label": "shop",
            "scopes": ["btcpay.store.canviewinvoices", "btcpay.store.cancreateinvoice"],
        },
    )
    html = response.content.decode()
    token = re.search(r'data-testid="new-token">([0-9a-f]{40})<', html)
    assert token is not None and response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(merchant=merchant)
    assert key.key_hash == token_hash(token.group(1)) and token.group(1) not in key.key_hash
    assert token.group(1) not in browser.get("/merchant/keys/").content.decode()  # shown once
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"token {token.group(1)}")
    assert client.get(store_url(merchant, "invoices")).status_code == 200
    assert "never" not in browser.get("/merchant/keys/").content.decode()  # last use shown
    browser.post(f"/merchant/keys/{key.pk}/revoke")
    assert client.get(store_url(merchant, "invoices")).status_code == 401


def test_key_pages_are_for_merchants_only(
    make_user: Callable[..., User], merchant: Merchant
) -> None:
    browser = Client()
    assert browser.get("/merchant/keys/").status_code == 302  # to login
    browser.force_login(make_user())
    assert browser.get("/merchant/keys/").status_code == 404
    key_id = ApiKey.objects.create(
        merchant=merchant, label="x", prefix="abc", key_hash="0", created_by=merchant.owner
    ).pk
    assert browser.post(f"/merchant/keys/{key_id}/revoke").status_code == 404


def test_key_form_refuses_no_scopes(merchant: Merchant) -> None:
    browser = Client()
    browser.force_login(merchant.owner)
    browser.post("/merchant/keys/", {"label": "shop"})
    assert not ApiKey.objects.exists()


def test_onboard_command(make_user: Callable[..., User], capsys: Any) -> None:
    owner = make_user(email="tea@example.kz")
    call_command("merchant_onboard", "--name", "Tea House", "--owner", "tea@example.kz", "--kzt")
    merchant = Merchant.objects.get(owner=owner)
    assert merchant.btc_account.kind == "merchant" and merchant.btc_account.currency == "BTC"
    assert merchant.kzt_account is not None and merchant.kzt_account.currency == "KZT"
    assert len(merchant.store_id) == 44
    assert merchant.store_id in capsys.readouterr().out


def test_body_size_is_bounded(api: APIClient, merchant: Merchant) -> None:
    huge = '{"amount": "0.001", "metadata": {"x": "' + "a" * 70_000 + '"}}'
    response = api.post(store_url(merchant, "invoices"), huge, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "body-too-large"
    big = '{"amount": "0.001", "metadata": {"x": "' + "a" * 20_000 + '"}}'
    response = api.post(store_url(merchant, "invoices"), big, content_type="application/json")
    assert "metadata" in problems(response)


def test_store_and_current_key(
    merchant: Merchant,
    make_client: Callable[..., APIClient],
    make_merchant: Callable[..., Merchant],
) -> None:
    from merchants.services.keys import SCOPE_CREATE_INVOICE, SCOPE_VIEW_STORE

    client = make_client(merchant, [SCOPE_VIEW_STORE, SCOPE_CREATE_INVOICE])
    store = client.get(store_url(merchant)[:-1]).json()
    assert (store["id"], store["name"]) == (merchant.store_id, merchant.name)
    assert client.get("/api/v1/stores").json() == [store]
    key = client.get("/api/v1/api-keys/current").json()
    assert key["permissions"] == [
        f"btcpay.store.cancreateinvoice:{merchant.store_id}",
        f"btcpay.store.canviewstoresettings:{merchant.store_id}",
    ]
    assert len(key["apiKey"]) == 40
    other = make_merchant("Other")
    assert client.get(f"/api/v1/stores/{other.store_id}").status_code == 404
    assert APIClient().get("/api/v1/api-keys/current").status_code == 401


def test_old_idempotency_keys_are_purged(api: APIClient, merchant: Merchant) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from merchants.services.idempotency import idempotency_purge

    api.post(store_url(merchant, "invoices"), BODY, format="json", HTTP_IDEMPOTENCY_KEY="old")
    api.post(store_url(merchant, "invoices"), BODY, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert idempotency_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_periodic_tasks_run(api: APIClient, merchant: Merchant) -> None:
    from merchants.tasks import idempotency_purge_old, invoice_expire, webhook_deliver_due

    assert invoice_expire.apply().get() == 0
    assert (
        webhook_deliver_due.apply().get() == 0
    )  # the sweep itself: tests/merchants/test_webhooks.py
    assert idempotency_purge_old.apply().get() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_invoice(
    make_merchant: Callable[..., Merchant], make_client: Callable[..., APIClient]
) -> None:
    from tests.conftest import run_threads

    merchant = make_merchant()
    client = make_client(merchant)
    url = store_url(merchant, "invoices")

    def post(i: int) -> Any:
        return client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="race")

    results = run_threads(6, post)
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {200, 409}, codes
    assert Invoice.objects.filter(merchant=merchant).count() == 1
    ids = {r.json()["id"] for r in results if r.status_code == 200}
    assert len(ids) == 1
    assert all(
        r.json()["code"] == "idempotency-in-progress" for r in results if r.status_code == 409
    )


@pytest.mark.faults
def test_key_left_in_progress_by_a_crashed_worker_is_recovered(
    api: APIClient, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store_url(merchant, "invoices")

    def killed(**_: Any) -> None:
        raise SystemExit("worker killed mid-request")  # not an Exception: no cleanup runs

    with monkeypatch.context() as patch:
        patch.setattr(invoice_services, "invoice_create", killed)
        with pytest.raises(SystemExit):
            api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    record = IdempotencyRecord.objects.get(key="k-crash")
    assert record.status_code is None  # the claim the dead worker left behind
    busy = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency-in-progress"
    # Later than any request can run: the claim is abandoned and the retry runs once.
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(seconds=IN_PROGRESS_MAX_S + 1)
    )
    retried = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    assert retried.status_code == 200, retried.json()
    replayed = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    assert replayed.json() == retried.json() and replayed["Idempotent-Replayed"] == "true"
    assert Invoice.objects.count() == 1
