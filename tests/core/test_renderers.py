"""The orjson renderer writes the very bytes DRF's JSONRenderer writes."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict

from core.money import Currency
from core.renderers import FastJSONRenderer

SAMPLES: list[Any] = [
    {"amount": "0.00150000", "paymentTolerance": Decimal(150) / 100, "zero": Decimal(0) / 100},
    {"big": Decimal(10_000) / 100, "metadata": {"orderId": "A-1", "nested": [1, [2, {"x": None}]]}},
    {"at": datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC), "day": date(2026, 1, 2)},
    {"local": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5)))},
    {"lazy": gettext_lazy("Not found"), "id": uuid.UUID(int=7), "currency": Currency.KZT},
    {"text": 'Tea \u2028 line \u2029 para, \u00e9 \U0001f375 "quoted" \\ / \x01'},
    {1: "int key", False: "bool key", None: "none key"},
    ReturnDict({"code": "x", "message": "y"}, serializer=None),  # type: ignore[call-overload]
    [{"id": n, "ok": n % 2 == 0} for n in range(5)],
    [],
    {},
    "plain",
    {"huge": 2**70},  # beyond 64 bits: orjson refuses, DRF's renderer writes it
    {"neg": -(2**63), "max": 2**63 - 1, "floats": [0.1, 1e-08, 1e16, -0.0]},
    {"tiny": Decimal("1E-8"), "large": Decimal("1E+16")},
]


@pytest.mark.parametrize("data", SAMPLES)
def test_same_bytes_as_drf(data: Any) -> None:
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_none_renders_nothing() -> None:
    assert FastJSONRenderer().render(None) == b""


def test_indent_requested_is_pretty_printed_as_drf() -> None:
    data = {"a": [1, 2], "b": Decimal("1.5")}
    media = "application/json; indent=4"
    assert FastJSONRenderer().render(data, media) == JSONRenderer().render(data, media)
    assert b"\n    " in FastJSONRenderer().render(data, media)


def test_nan_is_refused_as_drf() -> None:
    for bad in ({"x": math.nan}, {"x": [math.inf]}, {"x": Decimal("NaN")}):
        with pytest.raises(ValueError):
            JSONRenderer().render(bad)
        with pytest.raises(ValueError):
            FastJSONRenderer().render(bad)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text()
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=8, max_value=10**9, min_value=-(10**9)
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_any_json_value_same_bytes(data: Any) -> None:
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        (None, ""),
        ("*/*", ""),
        ("application/json", ""),
        (" */* ", ""),
        ("application/json; indent=4", ""),
        ("text/html, */*;q=0.8", ""),
        ("*/*", "format=json"),
        ("text/html", ""),
        ("application/xml", ""),
        ("*/*", "format=api"),
    ],
)
def test_negotiation_answers_as_drf(accept: str | None, query: str) -> None:
    from django.http import Http404
    from rest_framework.exceptions import NotAcceptable
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from core.renderers import FastContentNegotiation

    headers: Any = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/api/v1/x?" + query, **headers))
    renderers = [FastJSONRenderer()]
    answers = []
    for negotiation in (DefaultContentNegotiation(), FastContentNegotiation()):
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers)
            answers.append((type(renderer), media_type))
        except (NotAcceptable, Http404) as exc:
            answers.append((type(exc), ""))
    assert answers[0] == answers[1]
