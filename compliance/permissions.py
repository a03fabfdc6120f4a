"""Staff permission checks, done in the services so every door enforces them."""

from __future__ import annotations

from typing import Any

from core.errors import PermissionDenied


def require_perm(actor: Any, perm: str) -> None:
    """Raise ``PermissionDenied`` unless ``actor`` is active staff holding ``perm``.

    ``perm`` is ``"app_label.codename"``. Superusers hold every permission.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied("Sign in as staff to do this")
    if not actor.is_active or not actor.is_staff:
        raise PermissionDenied("Only active staff may do this")
    if not actor.has_perm(perm):
        raise PermissionDenied(f"You lack the permission {perm}", fields={"permission": [perm]})


def has_perm(actor: Any, perm: str) -> bool:
    """Return whether ``actor`` passes ``require_perm`` (for showing or hiding controls)."""
    try:
        require_perm(actor, perm)
    except PermissionDenied:
        return False
    return True
