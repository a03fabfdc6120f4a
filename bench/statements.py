"""Statement downloads of one customer with many transfers, without the rest of bench.scale.

    .venv/bin/python -m bench.statements [--transfers 100000] [--db NAME]

The quick variant of ``bench/scale.py`` (which is the benchmark of record: ledger at 10k,
100k and 1M, checks, reconciliation and these downloads): no regtest node, no other
ledger. Creates its own database (``alatau_bench_statements`` unless ``--db``, dropped and
migrated),
opens a customer KZT account and posts ``--transfers`` transfers to and from it
through the batch ledger API (1,000 a call), then downloads its statement as CSV and
as PDF through the real view, measured exactly as ``bench.scale`` measures them
(``bench.scale.downloads``: a fresh process each, cold and warm first byte and total,
RSS growth, then a ``tracemalloc`` pass). Figures go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench.common import database_url, django_on, fresh_database, machine
from bench.scale import downloads

DB_NAME = "alatau_bench_statements"
BATCH = 1000


def _seed(transfers: int, db_name: str) -> int:
    fresh_database(database_url(db_name))
    django_on(db_name)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--db", default=DB_NAME)
    args = parser.parse_args()
    from bank.localenv import prepare_environment

    prepare_environment()
    account = _seed(args.transfers, args.db)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"machine: {machine()}, load average {load}", flush=True)
    print(json.dumps(downloads(account, args.db)), flush=True)


if __name__ == "__main__":
    main()
