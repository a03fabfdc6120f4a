"""The web server's command line: gunicorn serving ``bank.wsgi`` (one place for every caller).

``make run`` (``bank/devrun.py``) and the API benchmark (``bench/api.py``) start the server
from :func:`command`, and ``tests/merchants/test_served_api.py`` serves the API through it, so
what is measured and tested is what runs (before, ``make run`` ran three sync workers, which
close every connection after one request, and the benchmark measured gthread workers).

Workers are processes (one GIL each), one per core; ``WEB_THREADS`` threads per worker
(``gthread``) overlap a request's waits on PostgreSQL, Redis or the node, and keep client
connections alive between requests. Measured on two cores at 50 keep-alive clients
(``bench/RESULTS.md``, "API: the web server"): other workers x threads and granian's Rust
front end were no faster beyond the machine's own swing; granian was only faster with
its ``backpressure`` limit, which starved most connections (one client got 1 request in
5 s while another got 1,976).
"""

from __future__ import annotations

import os
import sys


def workers_default() -> int:
    return int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 1)


def threads_default() -> int:
    return int(os.environ.get("WEB_THREADS") or 4)


def command(
    host: str,
    port: int,
    *,
    workers: int | None = None,
    threads: int | None = None,
    access_log: bool = False,
    log_level: str = "warning",
    fd: int | None = None,
) -> list[str]:
    """argv that serves the bank (web banking, admin, merchant API) on ``host:port``.

    ``fd``: serve a socket the caller already listens on instead (pass it with
    ``pass_fds``); connections made before the workers boot wait in its backlog, so a
    caller need not poll for the port.
    """
    workers = workers or workers_default()
    threads = threads or threads_default()
    bind = f"fd://{fd}" if fd is not None else f"{host}:{port}"
    argv = [
        sys.executable, "-m", "gunicorn", "bank.wsgi:application",
        "--bind", bind, "--workers", str(workers), "--threads", str(threads),
        # gthread even with one thread: the sync worker closes each connection after a request.
        "--worker-class", "gthread", "--log-level", log_level, "--backlog", "256",
        # gunicorn 27's control socket is one path per user: make run, the bench and the
        # served-API test would take it from each other. Operators use signals instead.
        "--no-control-socket",
    ]  # fmt: skip
    if access_log:
        argv += ["--access-logfile", "-"]
    return argv
