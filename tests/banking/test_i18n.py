"""Kazakh, Russian and English: catalogs complete, the browser's language, the switcher."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from accounts.models import User
from banking.templatetags.bank import money
from tests.banking.conftest import login

LOCALE = Path(settings.BASE_DIR) / "locale"
TRANSLATED = ("kk", "ru")


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_is_complete_and_compiled(language: str) -> None:
    po = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    assert len(po) > 300
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert not po.metadata_is_fuzzy  # a fuzzy header drops the plural rules
    for entry in po:
        if entry.msgid_plural:
            forms = dict(entry.msgstr_plural)
            assert all(forms.values()), entry.msgid
            assert len(forms) == (2 if language == "kk" else 4), entry.msgid
    # The committed .mo says the same as the .po (make messages rebuilds both).
    mo = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(po.fpath).replace(".po", ".mo"))}
    for entry in po:
        compiled = mo[(entry.msgctxt, entry.msgid)]
        assert (compiled.msgstr, dict(compiled.msgstr_plural)) == (
            entry.msgstr,
            {int(k): v for k, v in entry.msgstr_plural.items()},
        ), entry.msgid


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_placeholders_match(language: str) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("gettext is not installed: run scripts/ensure-system-packages.sh")
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    # --check verifies that every %(name)s of the English is in the translation.
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(po)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "lang", "nav"),
    [
        ("kk,ru;q=0.8", "kk", "Шолу"),
        ("ru-RU,ru;q=0.9,en;q=0.5", "ru", "Обзор"),
        ("en", "en", "Overview"),
    ],
)
def test_the_browsers_language_is_the_default(
    customer: User, header: str, lang: str, nav: str
) -> None:
    client = login(Client(), customer)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE=header).content.decode()
    assert f'<html lang="{lang}">' in page
    assert nav in page


@pytest.mark.django_db
def test_the_switcher_keeps_the_chosen_language(customer: User) -> None:
    client = login(Client(), customer)
    response = client.post("/i18n/setlang/", {"language": "kk", "next": "/statement/"})
    assert response.status_code == 302 and response["Location"] == "/statement/"
    page = client.get("/statement/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="kk">' in page and "Үзінді" in page
    assert 'aria-pressed="true"' in page and 'value="kk"' in page
    # Untranslated English must not leak into the main navigation.
    for english in ("Overview", "Transfer<", "Exchange<", "Security<"):
        assert english not in page


@pytest.mark.django_db
def test_signed_out_pages_are_translated_too() -> None:
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Вход в Alatau Bank" in page and "Электронная почта" in page and "Пароль" in page
    page = Client().get("/signup/", HTTP_ACCEPT_LANGUAGE="kk").content.decode()
    assert "Alatau шотыңызды ашыңыз" in page


def test_amounts_keep_every_digit_with_the_languages_decimal_mark() -> None:
    with translation.override("ru"):
        assert money(123_456_789, "KZT") == "1\u202f234\u202f567,89 KZT"
        assert money(150_000, "BTC") == "0,00150000 BTC"
    with translation.override("kk"):
        assert money(-5, "KZT") == "\u22120,05 KZT"
    with translation.override("en"):
        assert money(123_456_789, "KZT") == "1\u202f234\u202f567.89 KZT"


@pytest.mark.django_db
def test_field_errors_come_in_the_customers_language(customer: User) -> None:
    client = login(Client(), customer)
    response = client.post(
        "/transfers/new/",
        {"from_account": "", "recipient": "", "amount": ""},
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert "Обязательное поле." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_date_fields_keep_iso_values_in_every_language(customer: User, language: str) -> None:
    # <input type=date> takes only ISO dates: a localised "02.12.2026" shows as empty.
    page = login(Client(), customer).get("/statement/", HTTP_ACCEPT_LANGUAGE=language)
    html = page.content.decode()
    start = page.context["form"]["start"].value()
    assert f'value="{start:%Y-%m-%d}"' in html
