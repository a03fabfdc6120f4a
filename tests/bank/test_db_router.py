"""The read-replica router: lagging reads to the replica, fallback, read-your-writes."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client

from accounts.models import Account, User
from core import db_reads as db_router
from core.db_reads import REPLICA, note_write, read_alias, replica_reads


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def replica(settings: Any) -> Iterator[Callable[..., None]]:
    """A ``replica`` alias on the test database (a second connection: the same server).

    ``point(port=...)`` re-points it, e.g. at a port where nothing listens.
    """
    base = dict(connections[DEFAULT_DB_ALIAS].settings_dict)

    def point(*, connect: bool = True, **changes: Any) -> None:
        if REPLICA in connections.settings:
            connections[REPLICA].close()
        alias = {**base, **changes, "OPTIONS": {**base.get("OPTIONS", {}), "connect_timeout": 2}}
        connections.settings[REPLICA] = alias
        connections[REPLICA].settings_dict = alias
        settings.DATABASES = {**settings.DATABASES, REPLICA: alias}
        if connect:
            # Open it here: the test case only lets connections it knew at its start
            # connect lazily (this alias is new), an open one is used as it is.
            connections[REPLICA].connect()

    point(connect=False)
    db_router._down_until["at"] = 0.0
    yield point
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]
    db_router._down_until["at"] = 0.0


@pytest.mark.django_db(transaction=True)
def test_lagging_reads_go_to_the_replica_and_writes_stay_on_the_primary(
    replica: Callable[..., None], funded_account: Callable[..., Account]
) -> None:
    replica()
    account = funded_account(500)
    assert Account.objects.all().db == DEFAULT_DB_ALIAS
    with replica_reads() as alias:
        assert alias == REPLICA
        assert Account.objects.all().db == REPLICA
        seen = Account.objects.get(pk=account.pk)  # a real query on the replica connection
        assert seen._state.db == REPLICA and seen.posted_minor == 500
        seen.save(update_fields=["status"])
        assert seen._state.db == DEFAULT_DB_ALIAS  # the write went to the primary
    assert Account.objects.all().db == DEFAULT_DB_ALIAS
    assert connections[REPLICA].connection is not None  # it really connected


def test_a_replica_that_is_down_falls_back_to_the_primary(
    replica: Callable[..., None], django_db_blocker: Any
) -> None:
    replica(connect=False, PORT=str(_free_port()))  # nothing listens there
    with django_db_blocker.unblock():
        with replica_reads() as alias:
            assert alias == DEFAULT_DB_ALIAS
            assert Account.objects.all().db == DEFAULT_DB_ALIAS
        assert db_router._down_until["at"] > 0
        # Marked down: the next reads do not even try until the retry time.
        replica()
        assert read_alias() == DEFAULT_DB_ALIAS
        db_router._down_until["at"] = 0.0
        assert read_alias() == REPLICA


@pytest.mark.django_db(transaction=True)
def test_a_user_who_just_wrote_reads_from_the_primary_until_replayed(
    replica: Callable[..., None], make_user: Callable[..., User]
) -> None:
    replica()
    user, other = make_user(), make_user()
    note_write(user=user)
    stored = cache.get(f"db:last-write-lsn:{user.pk}")
    assert stored and "/" in stored
    # Our "replica" is the primary itself (no replay position): caught up by definition.
    assert read_alias(user=user) == REPLICA
    # A write position the replica has not replayed yet keeps this user on the primary.
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        in_recovery = cursor.fetchone()[0]
    if in_recovery:  # pragma: no cover - only against a real standby
        cache.set(f"db:last-write-lsn:{user.pk}", "FFFFFFFF/0", 60)
        assert read_alias(user=user) == DEFAULT_DB_ALIAS
    assert read_alias(user=other) == REPLICA
    cache.delete(f"db:last-write-lsn:{user.pk}")


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_post_notes_the_write_position(
    replica: Callable[..., None], make_user: Callable[..., User]
) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    cache.delete(f"db:last-write-lsn:{user.pk}")
    client.get("/healthz")
    assert cache.get(f"db:last-write-lsn:{user.pk}") is None  # a safe method writes nothing
    client.post("/healthz")  # any non-safe request by a signed-in user, whatever it answers
    assert cache.get(f"db:last-write-lsn:{user.pk}") is not None
