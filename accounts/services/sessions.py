"""The user's signed-in sessions: record them at login, list them, end them."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import UserSession
from audit.chain import audit_record
from core.errors import NotFound

USER_AGENT_MAX = 300


def user_session_record(
    *, user: Any, session_key: str, ip: str | None, user_agent: str
) -> UserSession:
    """Remember a new login's session so the user can see and end it later."""
    now = timezone.now()
    session, _ = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "ip": ip or None,
            "user_agent": user_agent[:USER_AGENT_MAX],
            "last_seen_at": now,
        },
    )
    return session


def user_sessions_active(*, user: Any) -> QuerySet[UserSession]:
    """Return the user's sessions that still exist and have not expired."""
    live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return UserSession.objects.filter(user=user, session_key__in=live).order_by("-last_seen_at")


def user_session_end(*, user: Any, user_session_id: int, client_address: str | None = None) -> None:
    """End one of the user's sessions: its browser is signed out at its next request."""
    with transaction.atomic():
        record = UserSession.objects.filter(pk=user_session_id, user=user).first()
        if record is None:
            raise NotFound("Session not found")
        Session.objects.filter(session_key=record.session_key).delete()
        record.delete()
        audit_record(
            actor=user,
            action="session.end",
            object_type="accounts.usersession",
            object_id=user_session_id,
            client_address=client_address,
        )


def user_sessions_end_others(
    *, user: Any, keep_session_key: str, client_address: str | None = None
) -> int:
    """End every session of the user except the current one; return how many."""
    with transaction.atomic():
        records = UserSession.objects.filter(user=user).exclude(session_key=keep_session_key)
        keys = list(records.values_list("session_key", flat=True))
        Session.objects.filter(session_key__in=keys).delete()
        records.delete()
        audit_record(
            actor=user,
            action="session.end_others",
            obj=user,
            data={"count": len(keys)},
            client_address=client_address,
        )
    return len(keys)


def user_session_touch(*, session_key: str) -> None:
    """Note that a session was used now (called at most once a minute per session)."""
    UserSession.objects.filter(session_key=session_key).update(last_seen_at=timezone.now())


def user_session_forget(*, session_key: str) -> None:
    """Drop the record of a session the user logged out of."""
    UserSession.objects.filter(session_key=session_key).delete()
