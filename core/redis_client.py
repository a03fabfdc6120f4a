"""One Redis client per process on the default cache's connection pool, for hot paths.

Django's ``RedisCache`` builds a new ``redis.Redis`` client (and its table of ~170
response callbacks) for every call: about 0.3 ms of CPU per cache operation, several
per API request. The client returned here is built once; it is thread-safe (the pool
hands each command a connection) and shares the cache's server and connections.
Keys go through ``cache_key`` so they carry the cache's prefix and version, as the
cache's own ``get``/``incr`` would write them.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.cache import cache


@functools.cache
def redis_client() -> Any:
    import redis

    backend: Any = cache
    pool = backend._cache._get_connection_pool(write=True)
    return redis.Redis(connection_pool=pool)


def cache_key(name: str) -> str:
    """The cache's key for ``name`` (prefix and version), as its own ``get`` would write it.

    Not ``make_and_validate_key``: its check only warns about keys memcached could not
    store (a loop over every character, on every API request); Redis stores any key.
    """
    return str(cache.make_key(name))
