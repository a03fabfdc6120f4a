"""Request helpers every door uses."""

from __future__ import annotations

from django.http import HttpRequest


def client_address(request: HttpRequest | None) -> str | None:
    """Return the client's address for the audit log (REMOTE_ADDR, set by the proxy)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
