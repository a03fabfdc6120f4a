"""One transfer through ``transfer_create``, taken apart: round trips, client CPU, wall time.

    .venv/bin/python -m bench.ledger_profile [--transfers 2000] [--profile]

Sets up the ``bench.ledger`` database (own name, dropped and created again), then posts
``--transfers`` uniform transfers one at a time from one process. Round trips are counted
from libpq's own trace of the connection (one ``Sync`` or simple ``Query`` message sent is
one round trip); client CPU is this process's CPU time; the server's share is the wall
time minus it. ``--profile`` prints the top of a cProfile of the loop.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import tempfile
import time

from bench.ledger import _setup

DB = "alatau_bench_profile"


def _round_trips(trace_path: str) -> int:
    # libpq's trace: one line per message, "F" (from the client) then the message name.
    with open(trace_path) as trace:
        return sum(
            1 for line in trace if "\tF\t" in line and ("\tSync" in line or "\tQuery\t" in line)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from bank.localenv import prepare_environment

    prepare_environment()
    ids, _ = _setup(DB)
    from django.db import connection

    from accounts.services import transfer_create

    rng = random.Random(1)
    pairs = [rng.sample(ids, 2) for _ in range(args.transfers)]

    def post(start: int, count: int) -> None:
        for n in range(start, start + count):
            debit, credit = pairs[n]
            transfer_create(debit_account_id=debit, credit_account_id=credit, amount_minor=1,
                            code="internal", idempotency_key=f"profile-{n}")  # fmt: skip

    post(0, 50)  # warm: connection open, plans and prepared statements in place
    fd, trace_path = tempfile.mkstemp(prefix="ledger-trace-")
    connection.connection.pgconn.trace(fd)
    post(50, 10)
    connection.connection.pgconn.untrace()
    os.close(fd)
    trips = _round_trips(trace_path) / 10
    os.unlink(trace_path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%ledger_transfer(%"])  # fmt: skip
        prepared = cursor.fetchone()[0]
    count = args.transfers - 60
    profiler = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    post(60, count)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"load {os.getloadavg()[0]:.2f}: {trips:.1f} round trips per transfer, client CPU "
          f"{cpu / count * 1e6:.0f} us, wall {wall / count * 1e6:.0f} us per transfer "
          f"(one process, serial); ledger_transfer prepared: {prepared}")  # fmt: skip
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
