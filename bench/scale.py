"""How the ledger's reads grow with its size: 10k, 100k and 1M transfers.

    .venv/bin/python -m bench.scale [--sizes 10000,100000,1000000]

Own database (``alatau_bench_scale``, dropped and created again) and its own regtest node
(reconciliation asks the node for balances and wallet transactions). The ledger grows
in steps through ``transfer_batch_create`` (keys, checks and audit events as in
production): 2,000 customer accounts funded by real deposits (one transaction with 2,000
outputs, so reconciliation finds the node and the ledger agree); one of them, the "big"
customer account, takes part in
one transfer in ten, so at 1M transfers it has 100,000; the rest are uniform internal
transfers. At each size it measures:

* ``ledger_check`` (every invariant, whole tables) and ``reconcile()`` (first run
  after the growth step: node balances, custody figures, liabilities, the custody
  transfers since the previous run);
* the big customer's statement over all time: first CSV byte, whole CSV, whole PDF,
  each timed, then again under ``tracemalloc`` for the peak of Python memory.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.common import machine
from bench.deposits import environment

DB_NAME = "alatau_bench_scale"
ACCOUNTS = 2_000
FUNDING_SATS = 1_000_000
BATCH = 2_000
BIG_SHARE = 10  # one transfer in ten involves the big account


def _accounts(client: Any) -> tuple[list[int], int]:
    """Fund ACCOUNTS customer accounts by real deposits: one transaction, one block, one scan."""
    from django.test import override_settings

    from accounts.models import Account
    from bench.deposits import _addresses, _one_big_transaction
    from custody.models import DepositAddress
    from custody.services import deposit_scan

    addresses = _addresses(ACCOUNTS, ACCOUNTS)
    raw = _one_big_transaction(client, addresses, FUNDING_SATS)
    with override_settings(DEPOSIT_CONFIRMATIONS=1):
        client.call("generateblock", client.wallet("funder").call("getnewaddress"), [raw])
        report = deposit_scan()
    assert report.credited == ACCOUNTS, report
    ids = list(
        DepositAddress.objects.filter(address__in=addresses).values_list("account_id", flat=True)
    )
    big = ids[0]
    assert Account.objects.get(pk=big).posted_minor == FUNDING_SATS
    return ids, big


def _grow(ids: list[int], big: int, count: int, seed: int) -> None:
    from accounts.services.transfer_batch import TransferSpec, transfer_batch_create

    rng = random.Random(seed)
    others = [i for i in ids if i != big]
    done = 0
    while done < count:
        items = []
        for n in range(min(BATCH, count - done)):
            debit, credit = rng.sample(others, 2)
            if (done + n) % BIG_SHARE == 0:
                debit, credit = (big, credit) if n % 2 else (debit, big)
            items.append(TransferSpec(debit, credit, rng.randint(1, 1000), "internal",
                                      memo=f"invoice {seed}-{done + n}"))  # fmt: skip
        transfer_batch_create(transfers=items)
        done += len(items)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _measure(big: int) -> dict[str, Any]:
    from accounts.models import Account, Transfer
    from accounts.selectors import ledger_check
    from treasury.services.reconcile import reconcile

    check_s, breaches = _timed(ledger_check)
    assert breaches == [], breaches
    reconcile_s, run = _timed(lambda: reconcile(trigger="bench"))
    lines = Transfer.objects.filter(debit_account_id=big).count()
    lines += Transfer.objects.filter(credit_account_id=big).count()
    return {
        "transfers": Transfer.objects.count(),
        "accounts": Account.objects.count(),
        "big_account_transfers": lines,
        "ledger_check_s": round(check_s, 2),
        "reconcile_s": round(reconcile_s, 2),
        "reconcile_status": str(run.status),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with environment(DB_NAME) as client:
        from accounts.models import Transfer

        ids, big = _accounts(client)
        for size in sizes:
            started = time.perf_counter()
            _grow(ids, big, size - Transfer.objects.count(), seed=size)
            grow_s = time.perf_counter() - started
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE accounts_transfer")
            row = {"size": size, "grow_s": round(grow_s, 1), **_measure(big)}
            rows.append(row)
            print(row, flush=True)
    print(f"machine: {machine()}")
    head = list(rows[0])
    print("| " + " | ".join(head) + " |")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in head) + " |")


if __name__ == "__main__":
    main()
