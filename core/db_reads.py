"""Reads that may lag go to a PostgreSQL streaming replica; everything else to the primary.

Only reads that are allowed to lag (statements, reports, admin lists, the merchant
dashboard) ask for the replica, explicitly: ``lagging_reads(user=...)`` routes the ORM
reads inside a block (and yields the alias, to pass to a selector's ``using``);
``read_alias(user=...)`` only picks the alias; ``LaggingReadsAdmin`` does it for an
admin changelist. It lives in ``core`` so that every app's doors can use it (apps may
not import ``bank``); settings install the router and the middleware from here. Every write and every read that decides a write
(balances, limits, idempotency) stays on the primary whatever this module says.

Read-your-writes: after a request that may have written (any non-safe HTTP method of a
signed-in user), ``ReadYourWritesMiddleware`` stores the primary's WAL position for that
user in the cache. That user's lagging reads go to the primary until the replica has
replayed past it, so whoever just moved money sees it at once.

Fallback: a replica that cannot be reached (or answers with an error) is marked down in
this process for ``REPLICA_RETRY_S`` and every read goes to the primary meanwhile.
Without ``DATABASE_REPLICA_URL`` there is no replica alias and all of this is a no-op.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("alatau.db")

T = TypeVar("T")

REPLICA = "replica"
REPLICA_RETRY_S = 30.0
WRITE_MARK_TTL_S = 600
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_routing: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "alatau_read_alias", default=None
)
_down_until = {"at": 0.0}


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _mark_key(user_id: int) -> str:
    return f"db:last-write-lsn:{user_id}"


def _replica_caught_up(lsn: str | None) -> bool:
    """True when the replica answers and has replayed past ``lsn`` (if any)."""
    with connections[REPLICA].cursor() as cursor:
        if lsn is None:
            cursor.execute("SELECT 1")
            return True
        # On a primary (no recovery) the replay position is NULL: nothing can lag there.
        cursor.execute(
            "SELECT pg_last_wal_replay_lsn() IS NULL OR pg_last_wal_replay_lsn() >= %s::pg_lsn",
            [lsn],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def read_alias(*, user: Any | None = None) -> str:
    """Return the database alias for a read that may lag: the replica when it is usable."""
    if not replica_configured() or time.monotonic() < _down_until["at"]:
        return DEFAULT_DB_ALIAS
    user_id = getattr(user, "pk", None)
    lsn = cache.get(_mark_key(user_id)) if user_id is not None else None
    try:
        return REPLICA if _replica_caught_up(lsn) else DEFAULT_DB_ALIAS
    except DatabaseError as exc:
        _down_until["at"] = time.monotonic() + REPLICA_RETRY_S
        logger.warning(
            "replica unusable, reads go to the primary for %ss: %s", REPLICA_RETRY_S, exc
        )
        connections[REPLICA].close()
        return DEFAULT_DB_ALIAS


@contextmanager
def lagging_reads(*, user: Any | None = None) -> Iterator[str]:
    """Route the ORM reads of the block to ``read_alias(user=user)``; yield that alias.

    Only for reads that may lag and decide no write: a form that writes, a balance that
    a movement checks, an idempotency lookup stay outside (on the primary).
    """
    alias = read_alias(user=user)
    token = _routing.set(alias)
    try:
        yield alias
    finally:
        _routing.reset(token)


replica_reads = lagging_reads  # the name the router's first tests used


def lagging_iter(items: Iterable[T], *, user: Any | None = None) -> Iterator[T]:
    """Iterate ``items`` (a streamed response's body) with its reads on ``lagging_reads``.

    A streaming response's body runs after the view returned, outside any block the
    view opened, so the block is opened again around the iteration itself.
    """
    with lagging_reads(user=user):
        yield from items


class LaggingReadsAdmin:
    """ModelAdmin mixin: the changelist (a list that may lag) reads from the replica.

    Only the changelist shown (GET): the change form, its save and the admin actions (a
    POST to the changelist) run on the primary, because what they read decides a write.
    Put it first in the bases so that its ``changelist_view`` wraps the admin's.
    """

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.method != "GET":  # a POST to the changelist runs an admin action
            return super().changelist_view(request, extra_context)  # type: ignore[misc]
        with lagging_reads(user=getattr(request, "user", None)):
            response = super().changelist_view(request, extra_context)  # type: ignore[misc]
            # The list's querysets are lazy: the template evaluates them, so render here.
            if hasattr(response, "render"):
                response.render()
            return response


def note_write(*, user: Any) -> None:
    """Remember the primary's WAL position as this user's last write (read-your-writes)."""
    user_id = getattr(user, "pk", None)
    if user_id is None or not replica_configured():
        return
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        row = cursor.fetchone()
    if row:
        cache.set(_mark_key(user_id), str(row[0]), WRITE_MARK_TTL_S)


class PrimaryReplicaRouter:
    """Writes and migrations on the primary; reads on the replica only inside ``lagging_reads``."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return _routing.get()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two copies of it

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReadYourWritesMiddleware:
    """After a non-safe request of a signed-in user, note the primary's WAL position."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in _SAFE_METHODS and replica_configured():
            user = getattr(request, "user", None)
            if user is not None and getattr(user, "is_authenticated", False):
                note_write(user=user)
        return response
