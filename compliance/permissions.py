"""Staff permission checks, done in the services so every door enforces them."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from accounts.actor import Actor
from accounts.models import User
from core.errors import PermissionDenied


def require_perm(actor: Actor | AnonymousUser, perm: str) -> User:
    """Return ``actor`` if it is active staff holding ``perm``; else raise ``PermissionDenied``.

    ``perm`` is ``"app_label.codename"``. Superusers hold every permission.
    """
    if not isinstance(actor, User) or not actor.is_authenticated:
        raise PermissionDenied("Sign in as staff to do this")
    if not actor.is_active or not actor.is_staff:
        raise PermissionDenied("Only active staff may do this")
    if not actor.has_perm(perm):
        raise PermissionDenied(f"You lack the permission {perm}", fields={"permission": [perm]})
    return actor


def has_perm(actor: Actor | AnonymousUser, perm: str) -> bool:
    """Return whether ``actor`` passes ``require_perm`` (for showing or hiding controls)."""
    try:
        require_perm(actor, perm)
    except PermissionDenied:
        return False
    return True
