"""Template context for every page: the signed-in user's store, for the merchant nav."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from merchants.web.common import store_of


def merchant_nav(request: HttpRequest) -> dict[str, Any]:
    """Return ``merchant_store`` (the user's store, or None), looked up once per request."""
    user = getattr(request, "user", None)

    def lazy() -> Any:
        if not hasattr(request, "_merchant_store"):
            request._merchant_store = store_of(user)  # type: ignore[attr-defined]
        return request._merchant_store  # type: ignore[attr-defined]

    return {"merchant_store": lazy}
