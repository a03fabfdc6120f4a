"""Request helpers every door uses."""

from __future__ import annotations

from contextvars import ContextVar

from django.http import HttpRequest

# The request being served, for code reached without one in hand (model signals that
# audit who changed a user). Set by the project's request middleware, reset after.
current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)


def client_address(request: HttpRequest | None) -> str | None:
    """Return the client's address for the audit log (REMOTE_ADDR, set by the proxy)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
