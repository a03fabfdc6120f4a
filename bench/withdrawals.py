"""Withdrawal batching: 500 approved withdrawals, batch-sign-broadcast, vbytes each.

    .venv/bin/python -m bench.withdrawals [--count 500]

Same environment as ``bench.deposits`` (own database, own regtest node). Requests are
made through ``withdrawal_request`` (timed separately), then one batch run with
WITHDRAWAL_BATCH_MAX = count builds, signs, commits and broadcasts ONE transaction.
For comparison, one withdrawal alone is paid by its own transaction (1 output + change)
and its vsize is measured.

The bench measures batching, not screening: since the compliance rules landed, 500
withdrawals to 500 never-used addresses in a few seconds trip first-use, velocity and
structuring review, and only the few that pass would be batched. So the bench turns the
screening rules off in its own database (``RuleConfig.enabled``) and raises its
customer to the top KYC tier; it then checks that every one of the withdrawals was
approved without review before it batches them.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import machine, record
from bench.deposits import environment


def _screening_off(owner: Any) -> None:
    """Bench set-up in the bench's own database: no screening rule, the top KYC tier."""
    from accounts.models import Identity, KycStatus
    from compliance.models import RuleConfig, TierLimit

    RuleConfig.objects.update(enabled=False)
    top = TierLimit.objects.order_by("-tier").values_list("tier", flat=True).first() or 0
    TierLimit.objects.filter(tier=top).update(
        per_transaction_tiyn=10**15, daily_tiyn=10**15, monthly_tiyn=10**15
    )
    Identity.objects.update_or_create(
        user=owner, defaults={"status": KycStatus.APPROVED, "tier": top}
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    with environment() as client:
        from django.db.models import Count
        from django.test import override_settings

        from accounts.models import User
        from accounts.services import account_open, system_account, transfer_create
        from custody.models import Withdrawal
        from custody.services import (
            internal_address_new,
            withdrawal_batch_broadcast,
            withdrawal_batch_create,
            withdrawal_request,
        )

        funder = client.wallet("funder")
        for _ in range(4):  # a few coins in the hot wallet, as in real life
            funder.send_to_address(internal_address_new().address, 10 * 100_000_000)
        client.call("generatetoaddress", 1, funder.call("getnewaddress"))
        owner = User.objects.create_user(email="bench-withdrawals@example.kz", password=None)
        _screening_off(owner)
        account = account_open(owner=owner, currency="BTC")
        hot = system_account("custody_hot", "BTC")
        transfer_create(debit_account_id=hot.pk, credit_account_id=account.pk,
                        amount_minor=30 * 100_000_000, code="deposit")  # fmt: skip
        destinations = [funder.call("getnewaddress", "", "bech32") for _ in range(args.count + 1)]

        started = time.perf_counter()
        for i, address in enumerate(destinations[:-1]):
            withdrawal_request(account=account, address=address, amount_sats=100_000 + i,
                               requested_by=owner, idempotency_key=f"b{i}")  # fmt: skip
        request_s = time.perf_counter() - started
        statuses = dict(Withdrawal.objects.values_list("status").annotate(n=Count("id")).order_by())
        assert statuses == {"approved": args.count}, statuses

        with override_settings(WITHDRAWAL_BATCH_MAX=args.count):
            started = time.perf_counter()
            batch = withdrawal_batch_create()
            signed_s = time.perf_counter() - started
            sent = withdrawal_batch_broadcast()
            total_s = time.perf_counter() - started
        assert batch is not None and sent == 1
        assert batch.withdrawals.count() == args.count
        client.call("generatetoaddress", 1, funder.call("getnewaddress"))

        withdrawal_request(account=account, address=destinations[-1], amount_sats=100_000,
                           requested_by=owner, idempotency_key="single")  # fmt: skip
        single = withdrawal_batch_create()
        assert single is not None
    per_withdrawal = batch.vsize / args.count
    print(f"machine: {machine()}")
    print(f"{args.count} requests (validate, hold, screen, audit): {request_s:.2f} s")
    print(f"batch build+sign+commit: {signed_s:.2f} s; + broadcast: {total_s:.2f} s")
    print(f"batch tx: {batch.vsize} vB, {len(batch.inputs)} inputs, fee {batch.fee_sats} sats "
          f"at {batch.fee_rate_sat_vb} sat/vB")  # fmt: skip
    print(f"vbytes per withdrawal: batched {per_withdrawal:.1f} vB; alone {single.vsize} vB "
          f"({single.vsize / per_withdrawal:.1f}x)")  # fmt: skip
    if args.count == 500:
        record({"withdrawal_batched_vbytes_per_payment": round(per_withdrawal, 1)})


if __name__ == "__main__":
    main()
