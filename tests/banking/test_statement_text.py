"""A download's line text is the same as the template filters give, in each language."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from accounts.models import TransferCode
from accounts.selectors import StreamLine
from banking.statement_text import StatementText
from banking.templatetags.bank import money, movement_label

AMOUNTS = [0, 1, -1, 99, -100, 1_000, 123_456_789, -2_100_000_000_000_000, 10**15]


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
@pytest.mark.parametrize("currency", ["BTC", "KZT"])
def test_statement_text_matches_the_filters(language: str, currency: str) -> None:
    when = dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=dt.UTC)
    with translation.override(language):
        text = StatementText(currency)
        for minor in AMOUNTS:
            assert text.money(minor) == money(minor, currency)
        for code in [*TransferCode.values, "unknown"]:
            line = StreamLine(1, when, code, "", 1, 1)
            assert text.label(line) == movement_label(line)
            assert text.label(line) == movement_label(line)  # the remembered one
        assert text.local(when) == timezone.localtime(when)
        assert text.local(when).utcoffset() == timezone.localtime(when).utcoffset()


def test_statement_text_speaks_the_language_it_was_made_in() -> None:
    with translation.override("ru"):
        text = StatementText("KZT")
    assert text.money(123_456) == "1\u202f234,56 KZT"
    with translation.override("en"):
        assert StatementText("KZT").money(-123_456) == "\u22121\u202f234.56 KZT"
