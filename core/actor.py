"""Who acts: a signed-in user, or ``None`` for the system (a task, a scan, a migration).

Services take ``actor: Actor`` and rely only on what every user has (``pk``,
``is_staff``, ``is_active``, ``has_perm``), so the base layer needs no model of ours.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias


class User(Protocol):
    """The part of a user that every service may rely on."""

    @property
    def pk(self) -> Any: ...

    @property
    def is_staff(self) -> bool: ...

    @property
    def is_active(self) -> bool: ...

    def has_perm(self, perm: str, obj: Any = ...) -> bool: ...


# A user, or None when the system acts.
Actor: TypeAlias = User | None
