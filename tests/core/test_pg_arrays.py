"""Array literals read back by PostgreSQL exactly as the values they were made of."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from core.pg_arrays import bool_array, int_array, text_array

AWKWARD = ['a"b', "c\\d", "e'f", None, "NULL", "", "{x,y}", " lead", "ü\nnew line", '\\"', "%s"]


@pytest.mark.django_db
def test_literals_round_trip_through_postgresql() -> None:
    ids = [1, None, -7, 2**62]
    group = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::text[], %s::bigint[], %s::boolean[], %s::uuid[]",
            [text_array(AWKWARD), int_array(ids), bool_array([True, False, None]),
             text_array([group])],
        )  # fmt: skip
        texts, ints, bools, uuids = cursor.fetchone()
    assert texts == AWKWARD
    assert ints == ids
    assert bools == [True, False, None]
    assert uuids == [group]
    assert text_array([]) == int_array([]) == "{}"


def test_int_array_takes_integers_only() -> None:
    with pytest.raises(ValueError):
        int_array(["1}, 2"])  # type: ignore[list-item]
