"""Deposit scanner throughput: one block with 5,000 outputs to bank addresses.

    .venv/bin/python -m bench.deposits [--outputs 5000] [--accounts 500]

Runs on its own database (``alatau_bench_custody``, re-created each run) on the server of
DATABASE_URL and on its own regtest node (a temporary datadir, stopped at the end). The
funder pays every address in ONE transaction mined in one block. bitcoind's wallet refuses
to build a transaction over the 100 kvB standardness limit (5,000 P2WPKH outputs are
~155 kvB), so the transaction is made with ``createrawtransaction`` +
``signrawtransactionwithwallet`` and mined directly with ``generateblock`` (blocks only
need consensus validity). Measured: the time from that block to every deposit credited
(one ``deposit_scan`` with DEPOSIT_CONFIRMATIONS=1: its block path reads the block with
``getblock``, records and credits; the figure ends when those credits have committed),
the whole scan (its wallet path then waits for the node's wallet), the CPU seconds of
this process and of bitcoind meanwhile, then a repeated scan (nothing to do).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import django_on, fresh_database, machine, record

DB_NAME = "alatau_bench_custody"


@contextlib.contextmanager
def environment(db_name: str = DB_NAME) -> Iterator[Any]:
    """A fresh database and a fresh regtest node with ``hot`` and a funded ``funder``."""
    django_on(db_name)
    from django.core.management import call_command
    from django.test import override_settings

    fresh_database(os.environ["DATABASE_URL"])
    call_command("migrate", "--noinput", verbosity=0)
    from accounts.services.accounts import ledger_bootstrap

    ledger_bootstrap()
    with tempfile.TemporaryDirectory(prefix="alatau-bench-node-") as datadir:
        call_command("bitcoind", "start", "--datadir", datadir, "--no-blocknotify", verbosity=0)
        try:
            with override_settings(BITCOIND_RPC_URL="", BITCOIND_DATADIR=datadir):
                from custody.node import node_client
                from custody.services import wallet_load_or_create, wallets_setup

                wallets_setup()
                client = node_client()
                wallet_load_or_create(client=client, name="funder")
                funder = client.wallet("funder")
                client.call("generatetoaddress", 110, funder.call("getnewaddress"))
                yield client
        finally:
            call_command("bitcoind", "stop", "--datadir", datadir)


def _addresses(count: int, accounts: int) -> list[str]:
    from accounts.models import User
    from accounts.services import account_open
    from custody.services import deposit_address_new

    owner = User.objects.create_user(email="bench-deposits@example.kz", password=None)
    opened = [account_open(owner=owner, currency="BTC") for _ in range(accounts)]
    return [deposit_address_new(account=opened[i % accounts]).address for i in range(count)]


def _one_big_transaction(client: Any, addresses: list[str], amount_sats: int) -> str:
    from custody.node import btc, sats

    funder = client.wallet("funder")
    coin = max(funder.call("listunspent", 100), key=lambda u: u["amount"])
    fee_sats = 500_000
    change = sats(coin["amount"]) - amount_sats * len(addresses) - fee_sats
    outputs = [{address: btc(amount_sats)} for address in addresses]
    outputs.append({funder.call("getnewaddress"): btc(change)})
    raw = client.call("createrawtransaction", [{"txid": coin["txid"], "vout": coin["vout"]}],
                      outputs)  # fmt: skip
    signed = funder.call("signrawtransactionwithwallet", raw)
    assert signed["complete"]
    return str(signed["hex"])


def _bitcoind_cpu_s(datadir: str) -> float:
    """CPU seconds (user + system) bitcoind has used so far, from /proc (Linux)."""
    from core.node_state import STATE_FILE_NAME

    pid = json.loads((Path(datadir) / STATE_FILE_NAME).read_text())["pid"]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outputs", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--profile", help="write a cProfile of the timed scan to this file")
    parser.add_argument("--db", default=DB_NAME, help="database name (one per concurrent run)")
    args = parser.parse_args()
    with environment(args.db) as client:
        from django.conf import settings

        datadir = str(settings.BITCOIND_DATADIR)
        from django.test import override_settings

        from accounts.selectors import ledger_check
        from custody.models import Deposit
        from custody.services import deposit_scan

        started = time.perf_counter()
        addresses = _addresses(args.outputs, args.accounts)
        setup_s = time.perf_counter() - started
        raw = _one_big_transaction(client, addresses, 10_000)
        vsize = client.call("decoderawtransaction", raw)["vsize"]
        # Under load the node may take its time on one 5,000-output transaction.
        with override_settings(DEPOSIT_CONFIRMATIONS=1, BITCOIND_RPC_TIMEOUT_S=600):
            client.call("generateblock", client.wallet("funder").call("getnewaddress"), [raw])
            # CPU time, not wall: on a shared box waits for the CPU would swamp the profile.
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            bitcoind_cpu = _bitcoind_cpu_s(datadir)
            cpu = time.process_time()
            started = time.monotonic()
            if profiler is not None:
                profiler.enable()
            # The scan reads the block itself first (no wallet RPC), records and credits;
            # then its wallet path waits for the node's wallet to take the block in.
            report = deposit_scan()
            scan_s = time.monotonic() - started
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            credit_s = report.blocks_done_at - started
            cpu_s = time.process_time() - cpu
            node_cpu_s = _bitcoind_cpu_s(datadir) - bitcoind_cpu
            started = time.monotonic()
            again = deposit_scan()
            rescan_s = time.monotonic() - started
        credited = Deposit.objects.filter(status="credited").count()
        assert credited == args.outputs, (credited, report)
        assert again.credited == 0
        assert ledger_check() == []
    print(f"machine: {machine()}")
    print(f"addresses: {args.outputs} over {args.accounts} accounts (setup {setup_s:.1f} s)")
    print(f"one transaction, {args.outputs} outputs, {vsize} vB, mined in one block")
    print(f"block -> all credited: {credit_s:.2f} s ({args.outputs / credit_s:.0f} deposits/s)")
    print(f"  bench process CPU during the scan: {cpu_s:.2f} s; bitcoind CPU: {node_cpu_s:.2f} s")
    print(f"whole scan (the wallet path waits for the wallet): {scan_s:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"repeated scan (nothing new): {rescan_s:.2f} s")
    if args.outputs == 5000 and not args.profile:
        record({"deposit_scan_5000_s": round(credit_s, 2)})


if __name__ == "__main__":
    main()
