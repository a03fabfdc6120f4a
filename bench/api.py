"""Merchant API throughput: invoice creation and invoice reads under 50 concurrent clients.

    .venv/bin/python -m bench.api --repeat 3 --seconds 20
    .venv/bin/python -m bench.api --client python --requests 3000

Runs the web server ``make run`` starts (``bank/webserver.py``: gunicorn, gthread, a
worker per CPU x 4 threads unless ``--workers``/``--threads`` say otherwise; 127.0.0.1
only) against its own database
(``alatau_bench_api`` on DATABASE_URL's server, dropped and migrated each run),
onboards a merchant with an API key, then drives ``POST /api/v1/stores/{id}/invoices``
and ``GET /api/v1/stores/{id}/invoices/{invoiceId}`` with ``--clients`` concurrent
keep-alive connections. The load comes from ``wrk`` (Debian's package: C, an event
loop per thread, so it takes little of the two CPUs; scripts in ``bench/wrk/``) for
``--seconds`` per phase, or with ``--client python`` from the old Python client
(``--clients`` threads with a ``requests`` session each, stopping after
``--requests`` or ``--seconds``). Prints requests/s and p50/p99 latency per phase
and, for wrk, the CPU milliseconds per request of gunicorn, PostgreSQL, Redis, wrk and
the rest of the machine (``CpuMeter``: on a shared box the CPU per request moves less
than the rate), and writes the headline figures to ``bench/results.json`` (with
``--repeat N``, each figure's median of N runs; ``--no-record`` leaves it alone).

Invoices are created without an on-chain address (``MERCHANT_INVOICE_ONCHAIN``
off): this measures the API, ledger-side writes, audit and webhook fan-out,
not bitcoind's ``getnewaddress``. The per-key rate limit is raised so it does
not cap the run (its Redis round trip still happens on every request).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bank import webserver

ROOT = Path(__file__).resolve().parent.parent
# BENCH_API_DB: another name, so two runs on one server do not drop each other's database.
DB_NAME = os.environ.get("BENCH_API_DB", "alatau_bench_api")


def _env() -> dict[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/alatau")
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + DB_NAME,
            "ALATAU_ENV": "development",
            "DEBUG": "false",
            "SECURE_COOKIES": "false",
            "LOG_LEVEL": "WARNING",
            "MERCHANT_INVOICE_ONCHAIN": "false",
            "MERCHANT_API_RATE": "10000000/min",
            "CACHE_KEY_PREFIX": "alatau-bench-api",
            # Connections live the whole run: the CPU meter reads each PostgreSQL backend at
            # a phase's start and end, and one closed mid-phase (at the default 60 s age)
            # took its CPU with it (0.03-0.1 ms per create recorded instead of ~0.65).
            "DB_CONN_MAX_AGE": "3600",
            "DJANGO_SETTINGS_MODULE": "bank.settings",
        }
    )
    return env


def _setup(env: dict[str, str], webhooks: int = 0) -> tuple[str, str]:
    """Create and migrate the bench database; return (store id, API token).

    ``webhooks``: that many webhooks for every event, so each create also writes a delivery
    per webhook and asks for its task. Nothing sends them (no Celery worker runs): the
    deliveries wait in the database, the tasks on the broker.
    """
    os.environ.update(env)
    from bench.common import fresh_database

    fresh_database(env["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    from accounts.models import User
    from accounts.services.accounts import ledger_bootstrap
    from merchants.services.keys import SCOPES, api_key_issue
    from merchants.services.merchants import merchant_onboard

    ledger_bootstrap()
    owner = User.objects.create_user(email=f"bench-{time.time_ns()}@example.kz", password=None)
    merchant = merchant_onboard(name="Bench Shop", owner=owner, actor=None)
    _, token = api_key_issue(merchant=merchant, label="bench", scopes=list(SCOPES), actor=owner)
    from merchants.services.webhooks import webhook_create

    for n in range(webhooks):
        webhook_create(merchant=merchant, url=f"https://shop.example/hook/{n}", secret=None,
                       actor=owner)  # fmt: skip
    return merchant.store_id, token


def _start_server(env: dict[str, str], port: int, workers: int, threads: int) -> Any:
    """The server make run starts (bank/webserver.py), on 127.0.0.1:port."""
    command = webserver.command("127.0.0.1", port, workers=workers, threads=threads)
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def _run_phase(name: str, clients: int, total: int, seconds: float,
               call: Any) -> dict[str, float]:  # fmt: skip
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.perf_counter() + seconds

    def client(seed: int) -> None:
        session = requests.Session()
        rng = random.Random(seed)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            started = time.perf_counter()
            ok = call(session, rng, n)
            mine.append(time.perf_counter() - started)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    result = {
        "requests": len(latencies),
        "errors": errors[0],
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
    }
    print(f"{name:<15} {result}", flush=True)
    return result


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live local process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all processes, every engineer's)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds per request of each part of the run: gunicorn's workers, this database's
    PostgreSQL backends, wrk, Redis, and the rest of the machine (other engineers' load).

    Read from ``/proc`` around a phase: on a shared machine the wall-clock rate moves with
    everyone's load, the CPU per request much less.
    """

    def __init__(self, server_pid: int, db_url: str) -> None:
        self.server_pid, self.db_url = server_pid, db_url

    def _pids(self) -> dict[str, list[int]]:
        import psycopg

        children = Path(f"/proc/{self.server_pid}/task/{self.server_pid}/children")
        workers = [int(x) for x in children.read_text().split()]
        with psycopg.connect(self.db_url) as conn:
            backends = [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()").fetchall()]  # fmt: skip
        redis = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True, text=True)
        return {
            "gunicorn": [self.server_pid, *workers],
            "postgres": backends,
            "redis": [int(x) for x in redis.stdout.split()],
        }

    def start(self) -> None:
        import resource

        self.before = {k: {p: _cpu_s(p) for p in v} for k, v in self._pids().items()}
        self.children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.busy0 = _machine_busy_s()

    def stop(self, requests: int) -> dict[str, float]:
        """CPU milliseconds per request, by part."""
        import resource

        used: dict[str, float] = {}
        for part, pids in self._pids().items():  # a backend opened meanwhile counts from 0
            used[part] = sum(_cpu_s(p) - self.before[part].get(p, 0.0) for p in pids)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        used["wrk"] = (children.ru_utime + children.ru_stime) - (
            self.children0.ru_utime + self.children0.ru_stime
        )
        busy = _machine_busy_s() - self.busy0
        used["other"] = max(busy - sum(used.values()), 0.0)
        out = {f"{k}_cpu_ms": round(v / max(requests, 1) * 1000, 3) for k, v in used.items()}
        out["load_average"] = round(os.getloadavg()[0], 2)
        return out


def _wrk(script: str, clients: int, seconds: float, url: str, *script_args: str,
         meter: CpuMeter | None = None) -> dict[str, Any]:  # fmt: skip
    command = [
        "wrk", "-t", "2", "-c", str(clients), "-d", f"{int(seconds)}s", "--timeout", "10s",
        "-s", str(ROOT / "bench" / "wrk" / script), url, "--", *script_args,
    ]  # fmt: skip
    if meter is not None:
        meter.start()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = round(result["requests"] / result["duration_s"], 1)
    if meter is not None:
        result["cpu"] = meter.stop(result["requests"])
    return result


def _invoice_ids(env: dict[str, str], limit: int = 20_000) -> list[str]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT id FROM merchants_invoice LIMIT %s", [limit]).fetchall()
    return [str(r[0]) for r in rows]


def main_wrk(
    args: argparse.Namespace, env: dict[str, str], store_id: str, token: str, server_pid: int
) -> None:
    from bench.common import machine, record

    origin = f"http://127.0.0.1:{args.port}"
    path = f"/api/v1/stores/{store_id}/invoices"
    print(f"gunicorn {args.workers} workers x {args.threads} "
          f"threads, wrk -t2 -c{args.clients} -d{int(args.seconds)}s, {machine()}, "
          f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}",
          flush=True)  # fmt: skip
    # A short warm-up fills every worker's caches (and the ids file for the reads).
    _wrk("create.lua", args.clients, 3, origin + path, path, token, "7")
    meter = CpuMeter(server_pid, env["DATABASE_URL"])
    ids_file = ROOT / "var" / "bench-invoice-ids.txt"
    ids_file.parent.mkdir(exist_ok=True)
    creates: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []
    for run in range(args.repeat):  # create then read, so each read run sees more invoices
        create = _wrk("create.lua", args.clients, args.seconds, origin + path, path, token,
                      str(run + 1), meter=meter)  # fmt: skip
        print(f"create invoice  {create}", flush=True)
        ids_file.write_text("\n".join(_invoice_ids(env)) + "\n")
        read = _wrk("read.lua", args.clients, args.seconds, origin + path, path, token,
                    str(ids_file), str(run + 100), meter=meter)  # fmt: skip
        print(f"read invoice    {read}", flush=True)
        creates.append(create)
        reads.append(read)
    runs = creates + reads
    if any(r["non_2xx"] or r["socket_errors"] for r in runs):
        raise SystemExit("errors during the run: figures not recorded")
    figures = {
        # Medians of the runs, each figure on its own (the machine's spread between runs
        # minutes apart is larger than most changes measured here).
        "api_invoice_create_rps": statistics.median(r["rps"] for r in creates),
        "api_invoice_create_p99_ms": statistics.median(r["p99_ms"] for r in creates),
        "api_invoice_read_rps": statistics.median(r["rps"] for r in reads),
    }
    if args.repeat > 1:
        print(f"median of {args.repeat}: {figures}", flush=True)
    if args.record and not args.webhooks:  # the marks are for the bench's plain merchant
        record(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk")
    # Unset: make run's (bank/webserver.py: a worker per core, 4 threads each).
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000, help="per phase, at most (python)")
    parser.add_argument("--seconds", type=float, default=20, help="per phase")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each phase (wrk); "
                        "the medians are recorded")  # fmt: skip
    parser.add_argument("--webhooks", type=int, default=0, help="webhooks of the merchant "
                        "(a delivery per create each); figures then not recorded")  # fmt: skip
    parser.add_argument("--no-record", dest="record", action="store_false",
                        help="print only; leave bench/results.json alone")  # fmt: skip
    args = parser.parse_args()
    args.workers = args.workers or webserver.workers_default()
    args.threads = args.threads or webserver.threads_default()
    env = _env()
    store_id, token = _setup(env, args.webhooks)
    server = _start_server(env, args.port, args.workers, args.threads)
    if args.client == "wrk":
        try:
            main_wrk(args, env, store_id, token, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        return
    base = f"http://127.0.0.1:{args.port}/api/v1/stores/{store_id}/invoices"
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    created: list[str] = []
    try:

        def create(session: requests.Session, rng: random.Random, n: int) -> bool:
            amount = f"0.00{rng.randint(1000, 999_999):06d}"
            body = json.dumps({"amount": amount, "metadata": {"orderId": f"bench-{n}"}})
            response = session.post(base, data=body, headers=headers, timeout=30)
            if response.status_code == 200:
                created.append(response.json()["id"])
            return response.status_code == 200

        def read(session: requests.Session, rng: random.Random, n: int) -> bool:
            response = session.get(f"{base}/{rng.choice(created)}", headers=headers, timeout=30)
            return response.status_code == 200

        print(
            f"gunicorn {args.workers} workers x {args.threads} threads, "
            f"{args.clients} clients, {sys.platform}, {os.cpu_count()} CPUs",
            flush=True,
        )
        _run_phase("create invoice", args.clients, args.requests, args.seconds, create)
        _run_phase("read invoice", args.clients, args.requests, args.seconds, read)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
