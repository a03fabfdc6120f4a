"""No input makes the merchant API fail: odd text, deep JSON, huge numbers, big bodies, races."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from merchants.models import Invoice, Merchant
from tests.merchants.conftest import problems, store_url

pytestmark = pytest.mark.django_db


def _post_raw(api: APIClient, url: str, raw: Any) -> Any:
    return api.generic("POST", url, raw, content_type="application/json")


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ('{"amount": "0.001", "metadata": {"note": "a\\u0000b"}}', "metadata.note"),
        ('{"amount": "0.001", "metadata": {"a\\u0000": 1}}', "metadata"),
        ('{"amount": "0.001", "metadata": {"note": "\\ud800"}}', "metadata.note"),
        ('{"amount": "0.001", "metadata": {"\\udfff": 1}}', "metadata"),
        ('{"amount": "0.001", "metadata": {"orderId": "x\\u0000"}}', "metadata.orderId"),
        ('{"amount": "0.0\\u00001"}', "amount"),
        ('{"amount": "0.001", "currency": "\\u0000BT"}', "currency"),
        ('{"amount": NaN}', ""),
        ('{"amount": Infinity}', ""),
    ],
)
def test_json_text_the_database_cannot_hold_is_422(
    api: APIClient, merchant: Merchant, raw: str, path: str
) -> None:
    response = _post_raw(api, store_url(merchant, "invoices"), raw)
    assert path in problems(response)
    assert not Invoice.objects.exists()


def test_webhook_and_put_bodies_are_checked_too(api: APIClient, merchant: Merchant) -> None:
    raw = '{"url": "https://x.example/\\u0000"}'
    assert problems(_post_raw(api, store_url(merchant, "webhooks"), raw))
    invoice_id = api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json")
    url = f"/api/v1/invoices/{invoice_id.json()['id']}"
    put = api.generic("PUT", url, '{"metadata": {"k": "\\ud83d"}}', content_type="application/json")
    assert "metadata.k" in problems(put)


def test_body_that_is_not_utf8_is_422(api: APIClient, merchant: Merchant) -> None:
    response = _post_raw(api, store_url(merchant, "invoices"), b'{"amount": "\xff"}')
    assert problems(response)


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deep_json_is_refused(api: APIClient, merchant: Merchant, depth: int) -> None:
    raw = '{"amount": "0.001", "metadata": {"x": ' + "[" * depth + "]" * depth + "}}"
    response = _post_raw(api, store_url(merchant, "invoices"), raw)
    assert response.status_code in (413, 422)
    if response.status_code == 422:
        assert "deeper" in " ".join(problems(response).values())


def test_json_at_the_depth_cap_is_fine(api: APIClient, merchant: Merchant) -> None:
    nested: Any = 1
    for _ in range(20):
        nested = [nested]
    response = api.post(
        store_url(merchant, "invoices"),
        {"amount": "0.001", "metadata": {"x": nested}},
        format="json",
    )
    assert response.status_code == 200, response.content


def test_huge_integers_in_json_are_refused(api: APIClient, merchant: Merchant) -> None:
    raw = '{"amount": ' + "9" * 5000 + "}"
    assert problems(_post_raw(api, store_url(merchant, "invoices"), raw))
    raw = '{"amount": "0.001", "checkout": {"expirationMinutes": ' + "9" * 30 + "}}"
    assert "checkout.expirationMinutes" in problems(
        _post_raw(api, store_url(merchant, "invoices"), raw)
    )


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("startDate=99999999999999999999", "startDate"),
        ("startDate=253402300800", "startDate"),  # one second past 9999-12-31
        ("endDate=-1", "endDate"),
        ("skip=18446744073709551616", "skip"),
        ("skip=-1", "skip"),
        ("take=-1", "take"),
        ("take=101", "take"),
        ("take=%C2%B2", "take"),  # '²': isdigit() is true, int() refuses it
        ("take=%D9%A1", "take"),  # Arabic-Indic one: int() would take it
        ("take=1.5", "take"),
        ("status=Bogus", "status"),
        ("includeArchived=maybe", "includeArchived"),
        ("includePaymentMethods=2", "includePaymentMethods"),
        ("orderId=%00", "orderId"),
        ("textSearch=a%00b", "textSearch"),
        ("startDate=20&endDate=10", "startDate"),
    ],
)
def test_bad_list_queries_are_422(
    api: APIClient, merchant: Merchant, query: str, name: str
) -> None:
    assert name in problems(api.get(store_url(merchant, "invoices") + "?" + query))


def test_dates_at_the_calendar_edges_are_fine(api: APIClient, merchant: Merchant) -> None:
    url = store_url(merchant, "invoices") + "?startDate=0&endDate=253402300799&take=0"
    assert api.get(url).json() == []


@pytest.mark.parametrize(
    "rest",
    [
        "transactions?afterId=%C2%B2",
        "transactions?afterId=99999999999999999999",
        "transactions?limit=0",
        "transactions?currency=XYZ",
        "payment-methods?onlyEnabled=%00",
    ],
)
def test_other_queries_are_checked(api: APIClient, merchant: Merchant, rest: str) -> None:
    assert problems(api.get(store_url(merchant, rest)))


def test_delivery_count_is_checked(api: APIClient, merchant: Merchant) -> None:
    hook = api.post(store_url(merchant, "webhooks"), {"url": "https://x.example/h"}, format="json")
    url = f"/api/v1/webhooks/{hook.json()['id']}/deliveries?count=%C2%B2"
    assert "count" in problems(api.get(url))


def test_body_over_djangos_memory_cap_is_the_same_json_413(
    api: APIClient, merchant: Merchant, settings: Any
) -> None:
    url = store_url(merchant, "invoices")
    own = _post_raw(api, url, '{"metadata": {"x": "' + "a" * 70_000 + '"}}')
    huge = _post_raw(api, url, '{"metadata": {"x": "' + "a" * (3 * 1024 * 1024) + '"}}')
    assert own.status_code == huge.status_code == 413
    assert own.json() == huge.json()
    assert own.json()["code"] == "body-too-large"


def test_amount_as_string_or_number(api: APIClient, merchant: Merchant) -> None:
    url = store_url(merchant, "invoices")
    for amount in ("0.0015", 0.0015, 1, "1"):
        body = api.post(url, {"amount": amount}, format="json").json()
        assert body["amount"] in ("0.00150000", "1.00000000"), body
    as_number = _post_raw(api, url, '{"amount": 1.5e-3}')
    assert as_number.json()["amount"] == "0.00150000"


@pytest.mark.django_db(transaction=True)
def test_rate_limit_holds_under_concurrency(
    make_merchant: Callable[..., Merchant],
    make_client: Callable[..., APIClient],
    settings: Any,
    window_clock: Any,
) -> None:
    from tests.conftest import run_threads

    settings.MERCHANT_API_RATE = "20/min"
    merchant = make_merchant()
    client = make_client(merchant)
    url = f"/api/v1/stores/{merchant.store_id}"

    def hit(i: int) -> list[int]:
        return [client.get(url).status_code for _ in range(4)]

    results = run_threads(12, hit)
    codes = [code for batch in results for code in batch]
    assert len(codes) == 48 and set(codes) <= {200, 429}, results
    assert codes.count(200) == 20  # exactly the limit, never over (read-then-write lost updates)


def test_failed_authentication_is_throttled_per_client(
    merchant: Merchant, make_client: Callable[..., APIClient], settings: Any
) -> None:
    settings.MERCHANT_API_AUTH_FAILURE_RATE = "3/min"
    url = store_url(merchant, "invoices")
    guesser = APIClient(REMOTE_ADDR="203.0.113.77")
    guesser.credentials(HTTP_AUTHORIZATION="token " + "a" * 40)
    assert [guesser.get(url).status_code for _ in range(3)] == [401, 401, 401]
    blocked = guesser.get(url)
    assert blocked.status_code == 429 and blocked.json()["code"] == "too-many-requests"
    assert int(blocked["Retry-After"]) <= 60
    good = make_client(merchant)
    good.defaults["REMOTE_ADDR"] = "203.0.113.77"
    assert good.get(url).status_code == 429  # even a right key from that client waits
    other = make_client(merchant)
    other.defaults["REMOTE_ADDR"] = "203.0.113.78"
    assert other.get(url).status_code == 200  # the limit is per client


def test_checkout_page_status_poll_with_odd_ids() -> None:
    for raw in ("%00", "%ED%A0%80", "abc%00def"):
        response = Client().get(f"/i/{raw}/status")
        assert response.status_code == 404


def test_metadata_round_trips_plain_json(api: APIClient, merchant: Merchant) -> None:
    meta = {"orderId": "A-1", "nested": {"list": [1, "two", None, True]}, "price": 1.25}
    body = api.post(
        store_url(merchant, "invoices"), {"amount": "1", "metadata": meta}, format="json"
    )
    assert body.json()["metadata"] == json.loads(json.dumps(meta))


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"],
)
def test_big_bodies_of_any_type_are_json(
    api: APIClient, merchant: Merchant, content_type: str
) -> None:
    url = store_url(merchant, "invoices")
    big = "a=" + "b" * (3 * 1024 * 1024)
    response = api.generic("POST", url, big, content_type=content_type)
    assert response.status_code in (413, 415), response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    if response.status_code == 413:
        assert response.json()["code"] == "body-too-large"
    small = api.generic("POST", url, "a=b", content_type=content_type)
    assert small.status_code == 415 and small.json()["code"] == "unsupported-media-type"


def test_posts_to_unknown_api_paths_are_json_404_not_csrf_403() -> None:
    client = Client(enforce_csrf_checks=True)
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/api/v1/nothing", "{}", content_type="application/json")
        assert response.status_code == 404 and response.json()["code"] == "not-found"
    big = client.post("/api/v1/nothing", "a=" + "b" * (3 * 1024 * 1024),
                      content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert big.status_code == 404 and big.json()["code"] == "not-found"
