"""A per-process cache of authenticated API keys, dropped everywhere at once on any change.

Checking a key costs a query with two joins (key, merchant, owner) on every API
request. Here each worker process keeps the rows of keys it has checked, keyed by the
token's SHA-256, and trusts them only while two things hold:

- the *generation* in Redis (``apikey:generation``) is the one the entry was read
  under. Any save or delete of an ``ApiKey``, a ``Merchant`` or a user bumps it (a
  signal, so the admin and every service are covered): revoking a key, suspending a
  merchant or deactivating its owner reaches every worker on its next request. The
  bump happens at once and again after the commit, so a worker that reloads between
  the two cannot keep the old rows.
- the entry is younger than ``TTL_S``: a change that bypasses ``save()`` (a raw
  ``UPDATE``) is seen within that time at worst.

Entries hold plain column values; every request gets fresh model instances, so no
two threads share one. docs/security.md describes the rule.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction

from core.redis_client import cache_key, redis_client

GENERATION_NAME = "apikey:generation"
TTL_S = 30.0
ENTRIES_MAX = 10_000

_entries: dict[str, tuple[float, int, tuple[Any, ...]]] = {}
_lock = threading.Lock()


def generation() -> int:
    return int(redis_client().get(generation_key()) or 0)


def generation_key() -> str:
    """The Redis key of the generation (callers may read it in their own round trip)."""
    return cache_key(GENERATION_NAME)


def cached_pk(token_sha: str) -> int | None:
    """The key id of a cached entry, valid or not: only to count its rate before checking."""
    entry = _entries.get(token_sha)
    if entry is None:
        return None
    from merchants.models import ApiKey

    return int(entry[2][0][ApiKey._meta.concrete_fields.index(ApiKey._meta.pk)])


def generation_bump(**_: Any) -> None:
    """Invalidate every process's cached keys, now and once more after the commit."""

    def bump() -> None:
        redis_client().incr(generation_key())
        with _lock:
            _entries.clear()

    bump()
    transaction.on_commit(bump)


def _values(obj: models.Model) -> tuple[Any, ...]:
    return tuple(getattr(obj, f.attname) for f in obj._meta.concrete_fields)


def _instance(model: type[models.Model], values: tuple[Any, ...]) -> Any:
    names = [f.attname for f in model._meta.concrete_fields]
    return model.from_db("default", names, values)


def cached(token_sha: str, current: int) -> Any | None:
    """Return a fresh ``ApiKey`` (merchant and owner attached) if cached and still valid."""
    entry = _entries.get(token_sha)
    if entry is None or entry[1] != current or time.monotonic() - entry[0] > TTL_S:
        return None
    from merchants.models import ApiKey, Merchant

    key_values, merchant_values, owner_values = entry[2]
    key = _instance(ApiKey, key_values)
    merchant = _instance(Merchant, merchant_values)
    merchant.owner = _instance(get_user_model(), owner_values)
    key.merchant = merchant
    return key


def remember(token_sha: str, current: int, key: Any) -> None:
    rows = (_values(key), _values(key.merchant), _values(key.merchant.owner))
    with _lock:
        if len(_entries) >= ENTRIES_MAX:
            _entries.clear()
        _entries[token_sha] = (time.monotonic(), current, rows)


def forget(token_sha: str) -> None:
    with _lock:
        _entries.pop(token_sha, None)
