"""Who acts in a service: a signed-in user, or ``None`` when the system acts (a task, a scan).

Services take ``actor: Actor`` and store it on the rows they write (``created_by``,
``reviewed_by``) and in the audit log. The audit layer, below the users, types the
same argument with ``core.actor.ActorLike``.
"""

from __future__ import annotations

from typing import TypeAlias

from accounts.models import User

Actor: TypeAlias = User | None
