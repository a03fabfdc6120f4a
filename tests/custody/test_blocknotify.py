"""The block-notify path: a new block makes bitcoind run ``manage.py deposits_scan``.

The session's node runs without the hook: tests mine hundreds of blocks, and a Django
process per block would swamp a small machine. This test starts a node of its own with
the hook exactly as ``manage.py bitcoind start`` sets it up, and waits for the rows
the hook's scan writes: block -> hook -> command -> task -> scan -> credit.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from custody.models import Deposit, DepositStatus
from custody.node import node_client
from custody.services import deposit_address_new, wallet_load_or_create

pytestmark = [pytest.mark.node, pytest.mark.django_db(transaction=True)]

WAIT_S = 90


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@pytest.fixture
def notifying_node(tmp_path: Path, settings: Any) -> Iterator[str]:
    """A second regtest node whose ``-blocknotify`` hook scans this test's database."""
    if settings.BITCOIND_RPC_URL:
        pytest.skip("an external node (BITCOIND_RPC_URL) runs its own hook")
    datadir = str(tmp_path / "notify-node")
    settings.BITCOIND_DATADIR = datadir
    settings.CUSTODY_HOT_WALLET = "hot-notify"
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    # Coins first, without the hook: 101 blocks would start 101 scans.
    call_command("bitcoind", "start", "--datadir", datadir, "--no-blocknotify")
    client = node_client()
    for name in ("hot-notify", "funder"):
        wallet_load_or_create(client=client, name=name)
    funder = client.wallet("funder")
    client.call("generatetoaddress", 101, funder.call("getnewaddress", "", "bech32"))
    call_command("bitcoind", "stop", "--datadir", datadir)
    # The hook inherits the node's environment: this database, this node, eager tasks.
    with _env(DATABASE_URL=url, BITCOIND_DATADIR=datadir, BITCOIND_RPC_URL="",
              CUSTODY_HOT_WALLET="hot-notify", CELERY_TASK_ALWAYS_EAGER="true",
              DJANGO_SETTINGS_MODULE="bank.settings_test"):  # fmt: skip
        call_command("bitcoind", "start", "--datadir", datadir)
    try:
        for name in ("hot-notify", "funder"):
            wallet_load_or_create(client=node_client(), name=name)
        yield datadir
    finally:
        call_command("bitcoind", "stop", "--datadir", datadir)


# Every committed change to a deposit row wakes the test: it waits for that event
# (PostgreSQL LISTEN/NOTIFY), never for a fixed time.
NOTIFY_SQL = """
CREATE OR REPLACE FUNCTION test_deposit_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('test_deposit_changed', NEW.id::text); RETURN NEW; END; $$;
DROP TRIGGER IF EXISTS test_deposit_changed ON custody_deposit;
CREATE TRIGGER test_deposit_changed AFTER INSERT OR UPDATE ON custody_deposit
    FOR EACH ROW EXECUTE FUNCTION test_deposit_changed();
"""


@pytest.fixture
def deposit_changes() -> Iterator[psycopg.Connection[Any]]:
    """A connection listening for committed deposit changes (the hook's process writes them)."""
    with connection.cursor() as cursor:
        cursor.execute(NOTIFY_SQL)
    info = connection.connection.info
    with psycopg.connect(info.dsn, autocommit=True) as listener:
        listener.execute("LISTEN test_deposit_changed")
        yield listener
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_deposit_changed ON custody_deposit")


def _wait_for(listener: psycopg.Connection[Any], check: Any, what: str) -> Any:
    """Return ``check()`` once it is truthy, re-checking at each deposit change (90 s at most)."""
    deadline = time.monotonic() + WAIT_S
    while (found := check()) is None or not found:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the block-notify scan did not {what} within {WAIT_S} s")
        for _ in listener.notifies(timeout=left, stop_after=1):
            break  # a deposit changed: look again
    return found


def test_new_blocks_run_the_deposit_scan(
    notifying_node: str, funded_account: Any, deposit_changes: psycopg.Connection[Any]
) -> None:
    account = funded_account()
    address = deposit_address_new(account=account).address
    client = node_client()
    funder = client.wallet("funder")
    txid = funder.send_to_address(address, 40_000)
    mine_to = funder.call("getnewaddress", "", "bech32")
    needed = int(settings.DEPOSIT_CONFIRMATIONS)
    for height in range(1, needed + 1):
        client.call("generatetoaddress", 1, mine_to)  # no scan is called here: only the hook
        _wait_for(
            deposit_changes,
            lambda h=height: Deposit.objects.filter(txid=txid, confirmations__gte=h).first(),
            f"record {height} confirmation(s)",
        )
    deposit = _wait_for(
        deposit_changes,
        lambda: Deposit.objects.filter(txid=txid, status=DepositStatus.CREDITED).first(),
        "credit the deposit",
    )
    assert deposit.amount_sats == 40_000
    account.refresh_from_db()
    assert account.posted_minor == 40_000
