"""Django's PostgreSQL backend, health-checking a persistent connection only when it was idle.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` on the first query of every
request that reuses a persistent connection: a round trip (and a statement on the
server) per request, about a tenth of a cheap API read. A connection that finished its
last request without error less than ``HEALTH_CHECK_FRESH_S`` ago is taken as healthy,
as a brand-new one is; one idle for longer is checked as before. The risk this takes
is a server that went away within that last second: the request's first query then
fails and the connection is closed at the end of the request (Django's
``close_if_unusable_or_obsolete``), which is what happens with health checks off.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_FRESH_S = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    """``django.db.backends.postgresql`` with the idle-only health check."""

    _clean_since: float | None = None

    def close_if_unusable_or_obsolete(self) -> None:
        """At a request's start and end (Django's signals): note when a request last used
        the connection cleanly.

        ``health_check_done`` tells the two apart: Django clears it here, and it is set
        again only when the connection is checked or opened, i.e. used, in the request.
        """
        used = self.connection is not None and self.health_check_done
        clean = used and not self.errors_occurred
        super().close_if_unusable_or_obsolete()
        if self.connection is None or (used and not clean):
            self._clean_since = None
        elif clean and self.get_autocommit():
            self._clean_since = time.monotonic()

    def close_if_health_check_failed(self) -> None:
        since = self._clean_since
        if since is not None and time.monotonic() - since < HEALTH_CHECK_FRESH_S:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close(self) -> None:
        self._clean_since = None
        super().close()
