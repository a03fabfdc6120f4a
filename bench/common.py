"""Shared by the benchmarks: a fresh database, Django set up on it, machine facts, results."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS_JSON = Path(__file__).resolve().parent / "results.json"


def database_url(db_name: str) -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/alatau")
    return base.rsplit("/", 1)[0] + "/" + db_name


def fresh_database(url: str) -> None:
    """Drop and create the database of ``url``: every run starts from nothing."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def django_on(db_name: str, settings_module: str = "bank.settings_test") -> None:
    """Point DATABASE_URL at ``db_name`` and set Django up."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ["DATABASE_URL"] = database_url(db_name)
    import django

    django.setup()


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.processor() or platform.machine()}, {cpus} CPUs, Python {platform.python_version()}"


def record(figures: dict[str, Any]) -> None:
    """Merge headline figures into ``bench/results.json`` (other keys are kept)."""
    current: dict[str, Any] = {}
    if RESULTS_JSON.exists():
        current = json.loads(RESULTS_JSON.read_text())
    current.update(figures)
    RESULTS_JSON.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
