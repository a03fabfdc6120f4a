"""Query parameters of the merchant API, read strictly: every bad value is a 422, never a 500.

ASCII digits only (``'²'.isdigit()`` is true and ``int('١٢')`` is 12 in Python),
bounded to what the database and the calendar can hold, no NUL characters.
"""

from __future__ import annotations

import re

from rest_framework.request import Request

from core.errors import ValidationFailed

INT_RE = re.compile(r"-?[0-9]{1,19}")
INT64_MAX = 2**63 - 1
# 9999-12-31T23:59:59Z: the last second Python's datetime (and PostgreSQL's year) can hold.
UNIX_S_MAX = 253_402_300_799
TRUE_TEXT = {"true": True, "1": True, "false": False, "0": False}


def query_check(request: Request) -> None:
    """Refuse query values the database cannot hold (NUL) before any view reads them."""
    for name, values in request.query_params.lists():
        if "\x00" in name or any("\x00" in v for v in values):
            raise ValidationFailed(
                "NUL in a query parameter",
                fields={name.replace("\x00", ""): ["No NUL characters."]},
            )


def int_param(
    request: Request, name: str, default: int | None, *, low: int = 0, high: int = INT64_MAX
) -> int | None:
    """Return an integer query parameter in [low, high], or ``default`` when absent."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not INT_RE.fullmatch(value) or not low <= int(value) <= high:
        raise ValidationFailed(
            f"{name} must be an integer from {low} to {high}",
            fields={name: [f"An integer from {low} to {high}."]},
        )
    return int(value)


def date_param(request: Request, name: str) -> int | None:
    """A Unix time in seconds within the calendar (0 .. 9999-12-31)."""
    return int_param(request, name, None, low=0, high=UNIX_S_MAX)


def bool_param(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if value.lower() not in TRUE_TEXT:
        raise ValidationFailed(f"{name} must be true or false", fields={name: ["true or false."]})
    return TRUE_TEXT[value.lower()]


def choice_params(request: Request, name: str, choices: list[str]) -> list[str]:
    values = request.query_params.getlist(name)
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ValidationFailed(f"Unknown {name}", fields={name: [f"One of {', '.join(choices)}."]})
    return values


def text_param(request: Request, name: str, *, length_max: int = 200) -> str:
    value = request.query_params.get(name, "").strip()
    if len(value) > length_max:
        raise ValidationFailed(
            f"{name} is too long", fields={name: [f"At most {length_max} characters."]}
        )
    return value
