"""Ledger throughput: N processes post internal transfers through the service layer.

    .venv/bin/python -m bench.ledger --workers 4 --seconds 20

Runs against its own database (``alatau_bench``, re-created each run) on the
PostgreSQL of DATABASE_URL's server. Two workloads: ``uniform`` (random pairs
among 1,000 customer accounts), ``hot10`` (every transfer credits one of 10
merchant accounts) and ``hot`` (every transfer credits one merchant account). Prints transfers/s and p50/p99 latency per workload.
Every transfer carries an idempotency key and writes its audit event, as in
production.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import time
from typing import Any

ACCOUNTS = 1000
START_BALANCE = 10**12


def _django(db_name: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bank.settings_test"
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/alatau")
    os.environ["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + db_name
    import django

    django.setup()


def _setup(db_name: str) -> tuple[list[int], list[int]]:
    from bank.localenv import create_database

    _django(db_name)
    from django.conf import settings
    from django.core.management import call_command

    create_database(settings.DATABASES["default"]["NAME"] and os.environ["DATABASE_URL"])
    call_command("migrate", "--noinput", verbosity=0)
    from accounts.models import Account, User
    from accounts.services import account_open, system_account, transfer_create

    Account.objects.filter(kind__in=["customer", "merchant"]).exists()
    owner = User.objects.create_user(email=f"bench-{time.time_ns()}@example.kz", password=None)
    hot = system_account("custody_hot", "BTC")
    ids = []
    for _ in range(ACCOUNTS):
        account = account_open(owner=owner, currency="BTC")
        transfer_create(
            debit_account_id=hot.pk,
            credit_account_id=account.pk,
            amount_minor=START_BALANCE,
            code="deposit",
        )
        ids.append(account.pk)
    merchants = [account_open(owner=owner, currency="BTC", kind="merchant").pk for _ in range(10)]
    return ids, merchants


def _worker(
    db_name: str,
    workload: str,
    ids: list[int],
    hot_ids: list[int],
    seconds: float,
    seed: int,
    out: Any,
) -> None:
    _django(db_name)
    from accounts.services import transfer_create

    rng = random.Random(seed)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        debit = rng.choice(ids)
        targets = {"hot": hot_ids[:1], "hot10": hot_ids}.get(workload, ids)
        credit = rng.choice(targets)
        if credit == debit:
            continue
        n += 1
        started = time.perf_counter()
        transfer_create(
            debit_account_id=debit,
            credit_account_id=credit,
            amount_minor=1,
            code="internal",
            idempotency_key=f"b{seed}-{n}",
        )
        latencies.append(time.perf_counter() - started)
    out.put(latencies)


def run(
    workload: str, workers: int, seconds: float, ids: list[int], hot_ids: list[int], db_name: str
) -> dict[str, float]:
    queue: Any = mp.Queue()
    procs = [
        mp.Process(
            target=_worker,
            args=(db_name, workload, ids, hot_ids, seconds, i * 7919 + len(workload), queue),
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    for _ in procs:
        latencies.extend(queue.get())
    for p in procs:
        p.join()
    latencies.sort()
    return {
        "transfers": len(latencies),
        "per_s": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--db", default="alatau_bench")
    args = parser.parse_args()
    from bank.localenv import prepare_environment

    prepare_environment()
    ids, hot_ids = _setup(args.db)
    from django.db import connections

    connections.close_all()
    from accounts.selectors import ledger_check

    for workload in ("uniform", "hot10", "hot"):
        r = run(workload, args.workers, args.seconds, ids, hot_ids, args.db)
        print(
            f"{workload:8} workers={args.workers} transfers={r['transfers']:.0f} "
            f"rate={r['per_s']:.0f}/s p50={r['p50_ms']:.2f}ms p99={r['p99_ms']:.2f}ms",
            flush=True,
        )
    breaches = ledger_check()
    print("ledger_check:", breaches if breaches else "OK")


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
