"""The payer's checkout page (/i/<id>) speaks the payer's language (Accept-Language)."""

from __future__ import annotations

import pytest
from django.test import Client

from merchants.models import Merchant
from merchants.services.invoices import invoice_create

pytestmark = [pytest.mark.django_db, pytest.mark.node]

EXPECTED = {
    "kk": ["дүкеніне төлеу", 'lang="kk"'],
    "ru": ["Оплата в", 'lang="ru"'],
    "en": ["Pay ", 'lang="en"'],
}


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_the_checkout_is_in_the_payers_language(merchant: Merchant, language: str) -> None:
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC")
    page = Client().get(f"/i/{invoice.id}", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    html = page.content.decode()
    missing = [text for text in EXPECTED[language] if text not in html]
    assert missing == []
    if language != "en":
        assert "Time left" not in html and ">Amount<" not in html
