"""CPU per merchant API request, in process: the full Django stack without a socket.

    .venv/bin/python -m bench.api_profile [--requests 500] [--profile create|read]

Uses bench.api's database (``alatau_bench_api``, dropped and migrated) and settings
(no on-chain address, raised rate limit), then sends ``--requests`` invoice creates
and as many reads through ``django.test.Client`` one after another, and prints per
request: the process CPU time (``time.process_time``: not the wall clock, so it
barely moves with the machine's load), the PostgreSQL backend's CPU time (read from
``/proc/<backend pid>/stat``: the server runs on this host) and the number of SQL
queries. ``--profile`` prints the top of a cProfile of that phase.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from pathlib import Path
from typing import Any

from bench.api import _env, _setup

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a local process (a PostgreSQL backend)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _phase(name: str, count: int, send: Any, profile: bool) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    profiler = cProfile.Profile(time.process_time) if profile else None
    each: list[float] = []
    db0, cpu0, wall0 = backend_cpu_s(backend), time.process_time(), time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        if profiler:
            profiler.enable()
        for n in range(count):
            before = time.process_time()
            send(n)
            each.append(time.process_time() - before)
        if profiler:
            profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    db = backend_cpu_s(backend) - db0
    result = {
        "web_cpu_ms": round(cpu / count * 1000, 3),
        # The median request: a burst of the machine's other load moves it less than the mean.
        "web_cpu_p50_ms": round(sorted(each)[count // 2] * 1000, 3),
        "db_cpu_ms": round(db / count * 1000, 3),
        "wall_ms": round(wall / count * 1000, 3),
        "queries": round(len(queries.captured_queries) / count, 2),
    }
    print(f"{name:<7} {result}", flush=True)
    if profiler:
        sort = os.environ.get("PROFILE_SORT", "cumulative")  # or tottime: the hot spots
        pstats.Stats(profiler).sort_stats(sort).print_stats(70)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", choices=["create", "read"], default=None)
    parser.add_argument("--show-queries", action="store_true")
    parser.add_argument("--webhooks", type=int, default=0, help="webhooks of the merchant")
    args = parser.parse_args()
    env = _env()
    store_id, token = _setup(env, args.webhooks)
    from django.conf import settings
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    client = Client(HTTP_AUTHORIZATION=f"token {token}")
    path = f"/api/v1/stores/{store_id}/invoices"
    created: list[str] = []

    def create(n: int) -> None:
        body = json.dumps(
            {"amount": f"0.00{1000 + n % 900_000:06d}", "metadata": {"orderId": f"p-{n}"}}
        )
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 200, response.content
        created.append(response.json()["id"])

    def read(n: int) -> None:
        response = client.get(f"{path}/{created[n % len(created)]}")
        assert response.status_code == 200, response.content

    for n in range(20):  # warm-up: imports, caches, prepared plans
        create(10**6 + n)
        read(n)
    if args.show_queries:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        for name, send in (("create", create), ("read", read)):
            with CaptureQueriesContext(connection) as queries:
                send(2 * 10**6)
            print(f"--- {name}")
            for query in queries.captured_queries:
                print(" ", query["sql"][:220])
    uptime = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(uptime)}", flush=True)
    _phase("create", args.requests, create, args.profile == "create")
    _phase("read", args.requests, read, args.profile == "read")


if __name__ == "__main__":
    main()
