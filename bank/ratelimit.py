"""A fixed-window request counter in Redis: one round trip per hit, O(1) whatever the rate.

DRF's ``SimpleRateThrottle`` keeps the timestamp of every request of the window in one
cache value and reads, unpickles, trims, pickles and writes it back on every request:
the cost grows with the rate (600/min means a 600-entry list per call). This counts
instead: ``INCR`` and ``EXPIRE`` on a key per window, pipelined. A fixed window lets a
client burst up to twice the rate across a window boundary; for a per-key API limit
that is the accepted trade (the same one Redis's own rate-limit recipe makes).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _client(location: str) -> Any:
    """One client (and connection pool) per process and URL, made once under a lock.

    Two threads of a gthread worker must not each make one: the loser's pool would be
    dropped with sockets the winner may already share.
    """
    client = _clients.get(location)
    if client is None:
        with _clients_lock:
            client = _clients.get(location)
            if client is None:
                import redis

                client = _clients[location] = redis.Redis.from_url(location)
    return client


def window_hit(key: str, *, duration_s: int, now: float | None = None) -> tuple[int, float]:
    """Count one hit on ``key`` in the current window; return (hits so far, seconds left)."""
    cache = settings.CACHES["default"]
    now = time.time() if now is None else now
    window = int(now // duration_s)
    name = f"{cache.get('KEY_PREFIX', '')}:window:{key}:{window}"
    pipe = _client(str(cache["LOCATION"])).pipeline(transaction=False)
    pipe.incr(name)
    pipe.expire(name, duration_s + 1)
    hits, _ = pipe.execute()
    return int(hits), (window + 1) * duration_s - now
