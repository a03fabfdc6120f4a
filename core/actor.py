"""The shape of an actor for layers below the users (the audit log).

Above them services use ``accounts.actor.Actor`` (the user model, or ``None`` for the
system); below, only what every user has is relied on.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias


class UserLike(Protocol):
    """The part of a user that every service may rely on."""

    @property
    def pk(self) -> Any: ...

    @property
    def is_staff(self) -> bool: ...

    @property
    def is_active(self) -> bool: ...

    def has_perm(self, perm: str, obj: Any = ...) -> bool: ...


# A user, or None when the system acts.
ActorLike: TypeAlias = UserLike | None
