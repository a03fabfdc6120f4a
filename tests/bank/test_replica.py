"""The read-replica router against a real PostgreSQL streaming replica.

The session's PostgreSQL is shared and need not accept replication connections, so the
module starts a private primary and a hot standby of it (``devtools/pgreplica.py``) and,
for each test, points the ``default`` alias at that primary and ``replica`` at the
standby. The database and its tables are created on the primary only: the standby has
them because it replays the whole cluster. Lag is made real by pausing the standby's
replay; waits for replication commit with ``remote_apply`` (no sleeping).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import psycopg
import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from accounts.models import Account, AccountKind, Identity, Transfer, User
from banking.views.statements import _csv
from core import db_reads as db_router
from core.db_reads import REPLICA, note_write, read_alias, replica_reads
from devtools import pgreplica
from devtools.pgreplica import Pair
from merchants.models import Merchant

DBNAME = "alatau_replica_test"
_MODELS = (ContentType, Permission, Group, User, Account, Identity, Transfer, Merchant)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    bindir = pgreplica.find_bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb, pg_basebackup) on this machine"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message} (CI=true: the replica tests must run)")
        pytest.skip(message)
    started = pgreplica.start_pair(bindir)
    try:
        with psycopg.connect(started.primary.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DBNAME}")
        yield started
    finally:
        started.close()


def _alias(base: dict[str, Any], port: int) -> dict[str, Any]:
    options = {"connect_timeout": 2}  # not the test DB's options (allow_truncate is unknown here)
    return {**base, "HOST": "127.0.0.1", "PORT": str(port), "NAME": DBNAME, "OPTIONS": options}


@pytest.fixture
def routed(pair: Pair, settings: Any, django_db_blocker: Any) -> Iterator[Pair]:
    """``default`` on the private primary (with the tables), ``replica`` on its standby."""
    saved = connections[DEFAULT_DB_ALIAS].settings_dict
    primary, standby = _alias(saved, pair.primary.port), _alias(saved, pair.replica.port)
    with django_db_blocker.unblock():
        connections[DEFAULT_DB_ALIAS].close()
        connections[DEFAULT_DB_ALIAS].settings_dict = primary
        connections.settings[REPLICA] = standby
        settings.DATABASES = {**settings.DATABASES, REPLICA: standby}
        _create_tables()
        pgreplica.wait_replayed(pair)
        db_router._down_until["at"] = 0.0
        try:
            yield pair
        finally:
            _resume(pair)
            connections[REPLICA].close()
            del connections[REPLICA]
            del connections.settings[REPLICA]
            connections[DEFAULT_DB_ALIAS].close()
            connections[DEFAULT_DB_ALIAS].settings_dict = saved
            db_router._down_until["at"] = 0.0


def _create_tables() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT to_regclass('accounts_transfer') IS NOT NULL")
        row = cursor.fetchone()
    if row and row[0]:
        return
    with connections[DEFAULT_DB_ALIAS].schema_editor() as editor:
        for model in _MODELS:
            editor.create_model(model)


def _pause(pair: Pair) -> None:
    """Stop the standby applying WAL: whatever the primary commits next lags."""
    with psycopg.connect(pair.replica.url(DBNAME), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")


def _resume(pair: Pair) -> None:
    with (
        contextlib.suppress(psycopg.OperationalError),  # stopped: the fallback test restarts it
        psycopg.connect(pair.replica.url(DBNAME), autocommit=True) as conn,
    ):
        conn.execute("SELECT pg_wal_replay_resume()")


_seq = {"n": 0}


def _account(owner: User | None = None) -> Account:
    _seq["n"] += 1
    number = f"KZ{os.getpid() % 10000:04d}{_seq['n']:014d}"
    return Account.objects.create(
        number=number, owner=owner or _user(), currency="KZT", kind=AccountKind.CUSTOMER
    )


def _user() -> User:
    _seq["n"] += 1
    # bulk_create: no post_save, so no audit event (this database has no audit tables).
    (user,) = User.objects.bulk_create([User(email=f"replica{_seq['n']}@example.test")])
    return user


def test_a_lagging_read_is_served_by_the_replica_once_replicated(routed: Pair) -> None:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (True,)  # a real standby, not the primary again
    _pause(routed)
    account = _account()
    with replica_reads() as alias:
        assert alias == REPLICA
        # On the primary the row exists; the standby has not replayed it: the read went there.
        assert not Account.objects.filter(pk=account.pk).exists()
    assert Account.objects.filter(pk=account.pk).exists()  # outside the block: the primary
    _resume(routed)
    pgreplica.wait_replayed(routed)
    with replica_reads() as alias:
        seen = Account.objects.get(pk=account.pk)
    assert alias == REPLICA and seen._state.db == REPLICA and seen.number == account.number


def test_the_writer_reads_from_the_primary_until_the_replica_has_replayed(routed: Pair) -> None:
    writer, other = _user(), _user()
    cache.delete(f"db:last-write-lsn:{writer.pk}")
    pgreplica.wait_replayed(routed)
    _pause(routed)
    account = _account(owner=writer)  # the writer's money moves...
    note_write(user=writer)  # ...and the request notes the primary's WAL position
    assert read_alias(user=writer) == DEFAULT_DB_ALIAS
    with replica_reads(user=writer):
        assert Account.objects.filter(owner=writer).get().pk == account.pk  # sees own write
    with replica_reads(user=other) as alias:
        assert alias == REPLICA  # nobody else waits for the primary
        assert not Account.objects.filter(pk=account.pk).exists()  # and the replica lags
    _resume(routed)
    pgreplica.wait_replayed(routed)
    assert read_alias(user=writer) == REPLICA
    with replica_reads(user=writer):
        assert Account.objects.filter(owner=writer).get().pk == account.pk
    cache.delete(f"db:last-write-lsn:{writer.pk}")


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(routed: Pair) -> None:
    account = _account()
    pgreplica.wait_replayed(routed)
    assert read_alias() == REPLICA
    connections[REPLICA].connect()  # an open connection, as a long-lived process has
    routed.replica.stop()
    try:
        with replica_reads() as alias:
            assert alias == DEFAULT_DB_ALIAS
            assert Account.objects.get(pk=account.pk)._state.db == DEFAULT_DB_ALIAS
        assert db_router._down_until["at"] > 0  # marked down: no retry until REPLICA_RETRY_S
    finally:
        routed.replica.start()
    assert read_alias() == DEFAULT_DB_ALIAS  # still within the retry window
    db_router._down_until["at"] = 0.0  # the window has passed
    pgreplica.wait_replayed(routed)
    with replica_reads() as alias:
        assert Account.objects.get(pk=account.pk)._state.db == REPLICA


def _statement_refs(account: Account, user: User) -> list[str]:
    """The references in the statement's CSV download, read as the view streams it."""
    window = (timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=1))
    response = _csv(account, window, "s.csv", user)
    body = b"".join(cast(Iterator[bytes], response.streaming_content)).decode()
    return [row[1] for row in csv.reader(io.StringIO(body)) if row[1].startswith("T")]


def _transfer(source: Account, target: Account, amount_minor: int) -> Transfer:
    # Straight into the table: this database has neither the posting function nor audit.
    (transfer,) = Transfer.objects.bulk_create(
        [Transfer(debit_account=source, credit_account=target, amount_minor=amount_minor,
                  currency="KZT", code="internal")]
    )  # fmt: skip
    return transfer


def test_a_statement_is_read_from_the_standby_and_from_the_primary_after_own_transfer(
    routed: Pair,
) -> None:
    customer, other = _user(), _user()
    mine, theirs = _account(owner=customer), _account(owner=other)
    first = _transfer(theirs, mine, 5_00)
    pgreplica.wait_replayed(routed)
    _pause(routed)
    moved = _transfer(mine, theirs, 1_00)  # committed on the primary, not yet on the standby
    # Someone else's transfer: the customer's statement comes from the lagging standby.
    assert _statement_refs(mine, customer) == [f"T{first.pk}"]
    note_write(user=customer)  # the customer moved money (the middleware notes it)
    assert _statement_refs(mine, customer) == [f"T{first.pk}", f"T{moved.pk}"]
    assert _statement_refs(theirs, other) == [f"T{first.pk}"]  # others still on the standby
    _resume(routed)
    cache.delete(f"db:last-write-lsn:{customer.pk}")


def test_a_statement_falls_back_to_the_primary_while_the_standby_is_down(routed: Pair) -> None:
    customer = _user()
    mine = _account(owner=customer)
    pgreplica.wait_replayed(routed)
    _pause(routed)
    moved = _transfer(_account(), mine, 2_00)  # only the primary has it
    assert _statement_refs(mine, customer) == []  # the standby answers, and lags
    connections[REPLICA].connect()
    routed.replica.stop()
    try:
        assert _statement_refs(mine, customer) == [f"T{moved.pk}"]  # the primary answered
        assert db_router._down_until["at"] > 0
    finally:
        routed.replica.start()
