"""Rows in and out of a fixed statement, without the ORM's SQL compiler (the API's hot paths).

The ORM spends more CPU compiling ``Model.objects.filter(...)`` or ``objects.create(...)``
than PostgreSQL spends answering it (profiled on the merchant API: the invoice INSERT's
compiler was a fifth of an invoice creation's CPU). The statements here are built once
per process from the model's own fields, and each value goes through the same field
methods the ORM calls (``pre_save``, ``get_db_prep_save``, ``from_db_value``,
``Model.from_db``), so what is stored and read is what the ORM would store and read.
Signals are not sent: use these only for models without ``pre_save``/``post_save``
receivers (the caller says so in a comment).
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Field, Model
from django.db.models.fields import NOT_PROVIDED, AutoFieldMixin

from core.errors import invariant

M = TypeVar("M", bound=Model)


@functools.cache
def _select_sql(model: type[Model], where: str) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(model._meta.concrete_fields)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    return f'SELECT {columns} FROM "{model._meta.db_table}" WHERE {where}', fields  # noqa: S608 - names from the model


def rows_as_models(model: type[M], where: str, params: list[Any], *, alias: str) -> list[M]:
    """Instances of ``model`` matching a fixed ``where`` clause (a constant, never input:
    values go in ``params``), converted as the ORM converts them."""
    sql, fields = _select_sql(model, where)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converters = [getattr(f, "from_db_value", None) for f in fields]
    names = [f.attname for f in fields]
    return [
        model.from_db(
            alias,
            names,
            [
                v if c is None else c(v, None, connection)
                for c, v in zip(converters, row, strict=True)
            ],
        )
        for row in rows
    ]


@functools.cache
def _insert_sql(model: type[Model]) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(model._meta.concrete_fields)
    for field in fields:  # what only the ORM's INSERT knows how to write
        invariant(
            not isinstance(field, AutoFieldMixin)
            and getattr(field, "db_default", NOT_PROVIDED) is NOT_PROVIDED
            and not getattr(field, "generated", False),
            f"row_insert cannot write {model.__name__}.{field.name}",
        )
    columns = ", ".join(f'"{f.column}"' for f in fields)
    values = ", ".join(["%s"] * len(fields))
    return f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({values})', fields  # noqa: S608 - names from the model


def row_insert_statement(obj: Model, *, alias: str) -> tuple[str, list[Any]]:
    """The INSERT of ``obj`` as (SQL, params), for a caller that sends it with another
    statement (``audit_record(with_change=...)``); ``row_inserted`` after it ran."""
    sql, fields = _insert_sql(type(obj))
    connection = connections[alias]
    return sql, [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def row_inserted(obj: Model, *, alias: str) -> None:
    """Mark ``obj`` as stored in ``alias`` (what ``save()`` does after its INSERT)."""
    obj._state.adding = False
    obj._state.db = alias


def row_insert(obj: Model, *, alias: str) -> None:
    """INSERT ``obj`` as ``obj.save(force_insert=True)`` would (its primary key is set by the
    caller; ``auto_now_add`` and defaults filled the same way), without signals."""
    sql, params = row_insert_statement(obj, alias=alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
    row_inserted(obj, alias=alias)
