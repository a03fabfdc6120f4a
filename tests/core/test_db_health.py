"""The PostgreSQL backend health-checks a persistent connection only after it sat idle."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from core.db_postgres import base as db_base


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    return f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> Any:
    assert isinstance(connections["default"], db_base.DatabaseWrapper)
    conn: Any = connections["default"]
    conn.ensure_connection()
    assert conn.health_check_enabled
    checks: list[int] = []
    real = conn.is_usable

    def counted() -> bool:
        checks.append(1)
        return bool(real())

    monkeypatch.setattr(conn, "is_usable", counted)
    conn.checks = checks
    return conn


def _request(conn: Any) -> int:
    """What Django does around a request (close_old_connections), with one query inside."""
    conn.close_if_unusable_or_obsolete()  # request_started
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    conn.close_if_unusable_or_obsolete()  # request_finished
    return pid


@pytest.mark.django_db(transaction=True)
def test_a_busy_connection_skips_the_check_an_idle_one_is_checked(
    conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _request(conn)
    conn.checks.clear()
    _request(conn)
    _request(conn)
    assert conn.checks == []  # each request right after a clean one: no SELECT 1
    monkeypatch.setattr(db_base, "HEALTH_CHECK_FRESH_S", 0.0)  # "idle for longer"
    _request(conn)
    assert conn.checks == [1]


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_while_idle_is_replaced(
    conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _request(conn)
    with psycopg.connect(_conninfo(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    monkeypatch.setattr(db_base, "HEALTH_CHECK_FRESH_S", 0.0)
    assert _request(conn) != pid  # checked, found dead, reconnected: the request works
    assert conn.checks == [1]


@pytest.mark.django_db(transaction=True)
def test_after_an_error_the_next_request_is_checked(conn: Any) -> None:
    _request(conn)
    conn.close_if_unusable_or_obsolete()
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1")
    conn.checks.clear()
    conn.errors_occurred = True  # as after a failed query (not a constraint error)
    conn.close_if_unusable_or_obsolete()  # request_finished: Django checks it here
    _request(conn)
    assert conn.checks == [1]  # checked once after the error, then fresh again
