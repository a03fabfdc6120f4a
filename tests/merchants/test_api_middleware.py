"""The web-only middleware: skipped for the merchant API, unchanged for web pages."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from merchants.models import Merchant
from tests.merchants.conftest import store_url

pytestmark = pytest.mark.django_db


def test_api_request_skips_session_locale_and_csrf(api: APIClient, merchant: Merchant) -> None:
    api.cookies["sessionid"] = "not-a-session"
    api.cookies["alatau_language"] = "ru"
    response = api.post(
        store_url(merchant, "invoices"),
        {"amount": "0.00100000"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert response.status_code == 200  # no CSRF token, as before (views are exempt)
    assert "Content-Language" not in response  # LocaleMiddleware did not run
    assert "Cookie" not in response.get("Vary", "")  # nor the session's
    assert not response.cookies


def test_web_page_still_gets_locale_and_csrf(client: Client) -> None:
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="ru")
    assert page.status_code == 200
    assert page["Content-Language"] == "ru"
    assert "csrftoken" in page.cookies
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "a", "password": "b"}).status_code == 403


def test_api_request_after_a_russian_page_answers_in_the_default_language(
    api: APIClient, merchant: Merchant
) -> None:
    from django.utils import translation

    translation.activate("ru")  # what a worker thread keeps after serving a Russian page
    try:
        response = api.get(store_url(merchant, "invoices/none-such"))
        assert response.status_code == 404
        assert translation.get_language() == "en"
        assert response.json()["message"].isascii()  # BTCPay's English, not Russian
    finally:
        translation.deactivate()
