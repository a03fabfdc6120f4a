"""Statement downloads of a customer with many transfers: first byte, total time, peak memory.

    .venv/bin/python -m bench.statements [--transfers 100000]

Creates its own database (``alatau_bench_statements``, dropped and migrated), opens a
customer KZT account and posts ``--transfers`` transfers to and from it through the
batch ledger API (1,000 a call), then downloads its statement as CSV and as PDF, each
in a fresh subprocess running the views' own download code (``banking.views.statements``
``_csv`` and ``banking.views.statement_pdf.statement_pdf_response``: the login and form
checks of the page are skipped). For each it reports the time to the first byte of the
body, the time to the last, the size, the peak of Python allocations during the download
(``tracemalloc``) and the growth of the process's peak RSS (``ru_maxrss``) over what it
was before the download. Figures go to stdout (not to ``results.json``: no key of the
issue's seven is a statement figure).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from bench.common import database_url, django_on, fresh_database, machine

DB_NAME = "alatau_bench_statements"
BATCH = 1000


def _seed(transfers: int) -> int:
    fresh_database(database_url(DB_NAME))
    django_on(DB_NAME)
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    from accounts.models import Identity, User
    from accounts.services import account_open, system_account
    from accounts.services.accounts import ledger_bootstrap
    from accounts.services.transfer_batch import TransferSpec, transfer_batch_create

    ledger_bootstrap()
    owner = User.objects.create_user(email="bench-statements@example.kz", password=None)
    Identity.objects.update_or_create(user=owner, defaults={"full_name": "Bench Customer"})
    other = User.objects.create_user(email="bench-other@example.kz", password=None)
    mine = account_open(owner=owner, currency="KZT").pk
    theirs = account_open(owner=other, currency="KZT").pk
    source = system_account("external", "KZT").pk
    transfer_batch_create(transfers=[TransferSpec(source, mine, 10**12, "adjustment")])
    started, posted = time.perf_counter(), 1
    while posted < transfers:
        size = min(BATCH, transfers - posted)
        items = [
            TransferSpec(mine, theirs, 100 + i, "internal", memo=f"bench {posted + i}")
            if i % 2
            else TransferSpec(theirs, mine, 50 + i, "internal")
            for i in range(size)
        ]
        if posted == 1:  # the other side needs money to send back
            items[0] = TransferSpec(source, theirs, 10**12, "adjustment")
        transfer_batch_create(transfers=items)
        posted += size
    print(f"seeded {posted} transfers in {time.perf_counter() - started:.1f} s", flush=True)
    return mine


def _measure(fmt: str, account_id: int) -> dict[str, Any]:
    django_on(DB_NAME)
    import datetime as dt

    from django.utils import timezone

    from accounts.models import Account
    from banking.views import statements
    from banking.views.statement_pdf import statement_pdf_response

    account = Account.objects.select_related("owner").get(pk=account_id)
    today = timezone.localdate()
    start, end = today - dt.timedelta(days=1), today
    window = statements._window(start, end)
    user = account.owner
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    began = time.perf_counter()
    if fmt == "csv":
        response: Any = statements._csv(account, window, "bench.csv", user)
    else:
        response = statement_pdf_response(
            account=account, window=window, start=start, end=end, user=user,
            filename="bench.pdf", lines_max=statements.DOWNLOAD_LINES_MAX,
        )  # fmt: skip
    first: float | None = None
    size = 0
    for block in response.streaming_content:
        if first is None:
            first = time.perf_counter() - began
        size += len(block)
    total = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "format": fmt,
        "first_byte_s": round(first or total, 3),
        "total_s": round(total, 2),
        "size_mb": round(size / 1e6, 2),
        "python_peak_mb": round(peak / 1e6, 1),
        "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--measure", choices=["csv", "pdf"], help=argparse.SUPPRESS)
    parser.add_argument("--account", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print("RESULT " + json.dumps(_measure(args.measure, args.account)), flush=True)
        return
    from bank.localenv import prepare_environment

    prepare_environment()
    account = _seed(args.transfers)
    load = open("/proc/loadavg").read().split()[:3]  # noqa: SIM115
    print(f"machine: {machine()}, load average {' '.join(load)}", flush=True)
    for fmt in ("csv", "pdf"):
        out = subprocess.run(
            [sys.executable, "-m", "bench.statements", "--measure", fmt, "--account", str(account)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        print(next(line for line in out.splitlines() if line.startswith("RESULT ")), flush=True)


if __name__ == "__main__":
    main()
