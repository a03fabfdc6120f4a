"""How the ledger's reads grow with its size: 10k, 100k and 1M transfers.

    .venv/bin/python -m bench.scale [--sizes 10000,100000,1000000] [--db NAME]

One command, one table. Own database (``alatau_bench_scale`` unless ``--db``, dropped and
created again) and its own regtest node (reconciliation asks the node for balances and
wallet transactions).

The ledger: 2,000 customer BTC accounts funded by real deposits (one transaction with
2,000 outputs, one block, one ``deposit_scan``, so reconciliation finds the node and the
ledger agree). One of them belongs to its own customer, the "big" account, which takes
part in one transfer in ten, spread evenly: 1,000 of 10k, 10,000 of 100k, 100,000 of 1M
(its deposit counted; the 2,000 deposits count in the sizes). The ledger
grows in steps (10k, then to 100k, then to 1M) through the real posting path,
``transfer_batch_create`` in batches of 5,000 (the PL/pgSQL ``ledger_transfer_batch``:
balances, checks, idempotency keys, immutability triggers and one hash-chained audit
event per transfer, as in production), then ``VACUUM ANALYZE`` (what autovacuum does on
a live table). At each size it measures:

* ``ledger_check`` (every invariant, whole tables; must report nothing), ``audit_verify``
  (the whole hash chain; must report nothing) and ``reconcile()`` (the first run after
  the growth step: node balances, custody figures, liabilities; must be ``ok``);
* the big customer's statement of this month, CSV and PDF, each downloaded through
  the real view (``/statement/?format=csv|pdf``, Django's test client, signed in as the
  customer) in a fresh subprocess: after one warm-up request for the statement page (a
  server process has imported its views before its first download), three downloads.
  The first ("cold": the process's first download, its database connection's first
  reads of the ledger tables, the PDF's fonts parsed) gives the time to the first byte
  of the streamed body (the body is a generator: its first block is taken as the view
  produces it, before the rest is made), the time to the last byte, the size and the
  growth of the process's peak RSS over its RSS before the download (Linux: the peak,
  ``VmHWM``, is reset with ``/proc/self/clear_refs`` first); the second
  ("warm", as in a server process that has served one before) the same times; the third
  runs under ``tracemalloc`` for the peak of Python allocations (timed apart:
  ``tracemalloc`` slows allocation-heavy code 5-60 times).

The load average is printed with each size (the machine may be shared).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.common import django_on, machine
from bench.deposits import environment

DB_NAME = "alatau_bench_scale"
ACCOUNTS = 2_000
FUNDING_SATS = 1_000_000
BATCH = 5_000  # TRANSFER_BATCH_MAX
BIG_SHARE = 10  # one transfer in ten involves the big account
BIG_EMAIL = "bench-big@example.kz"


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _addresses() -> tuple[list[str], int]:
    """ACCOUNTS deposit addresses, one per account; the first account is the big customer's."""
    from accounts.models import Identity, User
    from accounts.services import account_open
    from custody.services import deposit_address_new

    big_owner = User.objects.create_user(email=BIG_EMAIL, password=None)
    Identity.objects.update_or_create(user=big_owner, defaults={"full_name": "Aigerim Seitkali"})
    others = User.objects.create_user(email="bench-scale@example.kz", password=None)
    big = account_open(owner=big_owner, currency="BTC")
    opened = [big] + [account_open(owner=others, currency="BTC") for _ in range(ACCOUNTS - 1)]
    return [deposit_address_new(account=a).address for a in opened], big.pk


def _accounts(client: Any) -> tuple[list[int], int]:
    """Fund ACCOUNTS customer accounts by real deposits: one transaction, one block, one scan."""
    from django.test import override_settings

    from accounts.models import Account
    from bench.deposits import _one_big_transaction
    from custody.models import DepositAddress
    from custody.services import deposit_scan

    addresses, big = _addresses()
    raw = _one_big_transaction(client, addresses, FUNDING_SATS)
    with override_settings(DEPOSIT_CONFIRMATIONS=1):
        client.call("generateblock", client.wallet("funder").call("getnewaddress"), [raw])
        report = deposit_scan()
    assert report.credited == ACCOUNTS, report
    ids = list(
        DepositAddress.objects.filter(address__in=addresses).values_list("account_id", flat=True)
    )
    assert Account.objects.get(pk=big).posted_minor == FUNDING_SATS
    return ids, big


def _grow(ids: list[int], big: int, count: int, big_count: int, seed: int) -> None:
    """Post ``count`` transfers, ``big_count`` of them to or from the big account, spread evenly."""
    from accounts.services.transfer_batch import TransferSpec, transfer_batch_create

    rng = random.Random(seed)
    others = [i for i in ids if i != big]
    done = 0
    while done < count:
        items = []
        for n in range(done, min(done + BATCH, count)):
            debit, credit = rng.sample(others, 2)
            if (n + 1) * big_count // count > n * big_count // count:
                debit, credit = (big, credit) if rng.random() < 0.5 else (debit, big)
            items.append(TransferSpec(debit, credit, rng.randint(1, 1000), "internal",
                                      memo=f"invoice {seed}-{n}"))  # fmt: skip
        transfer_batch_create(transfers=items)
        done += len(items)


def _lines(account_id: int) -> int:
    from accounts.models import Transfer

    debits = Transfer.objects.filter(debit_account_id=account_id).count()
    return debits + Transfer.objects.filter(credit_account_id=account_id).count()


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _checks(big: int) -> dict[str, Any]:
    from accounts.models import Transfer
    from accounts.selectors import ledger_check
    from audit.chain import audit_verify
    from treasury.services.reconcile import reconcile

    check_s, breaches = _timed(ledger_check)
    assert breaches == [], breaches
    verify_s, breaks = _timed(audit_verify)
    assert breaks == [], breaks
    reconcile_s, run = _timed(lambda: reconcile(trigger="bench"))
    assert str(run.status) == "ok", (run.status, run.diffs)
    return {
        "transfers": Transfer.objects.count(),
        "big_lines": _lines(big),
        "ledger_check_s": round(check_s, 2),
        "audit_verify_s": round(verify_s, 2),
        "reconcile_s": round(reconcile_s, 2),
    }


# The download, in a subprocess ----------------------------------------------------------


def _status_kb(field: str) -> int:
    """A figure of /proc/self/status in kB (VmRSS: resident now; VmHWM: its peak)."""
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith(field + ":"))
    return int(line.split()[1])


def _rss_peak_reset() -> int:
    """Reset the process's peak RSS to its current RSS (Linux: clear_refs 5); return it in kB."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _status_kb("VmRSS")


def download(fmt: str, account_id: int) -> dict[str, Any]:
    """Download the account's statement of this month through the view; time it, then trace it."""
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Account

    account = Account.objects.select_related("owner").get(pk=account_id)
    assert account.owner is not None
    client = Client()
    client.force_login(account.owner)
    today = timezone.localdate()
    params = {"account": str(account_id), "start": str(today.replace(day=1)), "end": str(today)}
    warm = client.get("/statement/")  # imports the views, as a running server has
    assert warm.status_code == 200, warm.status_code

    def once() -> tuple[float, float, int]:
        began = time.perf_counter()
        response: Any = client.get("/statement/", {**params, "format": fmt})
        assert response.status_code == 200 and response.streaming, response.status_code
        first, size = 0.0, 0
        for block in response.streaming_content:
            if not size and block:
                first = time.perf_counter() - began
            size += len(block)
        return first, time.perf_counter() - began, size

    rss_before = _rss_peak_reset()
    cold_first, cold_total, size = once()
    rss_growth = _status_kb("VmHWM") - rss_before
    first, total, _size = once()
    tracemalloc.start()
    once()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        f"{fmt}_first_cold_s": round(cold_first, 3),
        f"{fmt}_total_cold_s": round(cold_total, 2),
        f"{fmt}_first_s": round(first, 3),
        f"{fmt}_total_s": round(total, 2),
        f"{fmt}_mb": round(size / 1e6, 2),
        f"{fmt}_rss_growth_mb": round(rss_growth / 1024, 1),
        f"{fmt}_py_peak_mb": round(peak / 1e6, 1),
    }


def downloads(account_id: int, db_name: str) -> dict[str, Any]:
    """CSV then PDF, each in a fresh process (its RSS and imports its own)."""
    figures: dict[str, Any] = {}
    for fmt in ("csv", "pdf"):
        command = [sys.executable, "-m", "bench.scale", "--db", db_name,
                   "--download", fmt, "--account", str(account_id)]  # fmt: skip
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        figures.update(json.loads(next(x for x in out.splitlines() if x.startswith("{"))))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--db", default=DB_NAME)
    parser.add_argument("--download", choices=["csv", "pdf"], help=argparse.SUPPRESS)
    parser.add_argument("--account", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.download:
        django_on(args.db)
        print(json.dumps(download(args.download, args.account)), flush=True)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    print(f"machine: {machine()}; start {dt.datetime.now(dt.UTC):%H:%M} UTC", flush=True)
    with environment(args.db) as client:
        from django.db import connection

        from accounts.models import Transfer

        ids, big = _accounts(client)
        for size in sizes:
            load_before = _load()
            count, big_count = size - Transfer.objects.count(), size // BIG_SHARE - _lines(big)
            grow_s, _none = _timed(lambda: _grow(ids, big, count, big_count, size))  # noqa: B023
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE accounts_transfer")
            row = {"size": size, "grow_s": round(grow_s, 1), **_checks(big)}
            row.update(downloads(big, args.db))
            row["load"] = f"{load_before} / {_load()}"
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"end {dt.datetime.now(dt.UTC):%H:%M} UTC")
    head = list(rows[0])
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in head) + " |")


if __name__ == "__main__":
    main()
