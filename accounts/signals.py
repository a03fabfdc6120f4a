"""Audit events for sign-ins and for changes to who a user is or what they may do.

Logins (success and failure, customers and staff) and changes to a user's email,
password, active/staff/superuser flags, groups and permissions are written to the
audit chain whichever door made them (the admin, a shell, a migration). The actor is
the signed-in user of the request being served, or the system. Passwords never appear:
only that one changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.http import HttpRequest

from accounts.models import User
from audit.chain import audit_record
from core.http import client_address, current_request

WATCHED = ("email", "password", "is_active", "is_staff", "is_superuser")


def _actor() -> User | None:
    request = current_request.get()
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


def _address(request: HttpRequest | None = None) -> str | None:
    return client_address(request or current_request.get())


def _logged_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    audit_record(actor=user, action="auth.login", obj=user,
                 data={"staff": user.is_staff}, client_address=_address(request))  # fmt: skip


def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    tried = str(credentials.get("username") or credentials.get("email") or "")[:254]
    audit_record(actor=None, action="auth.login_failed", object_type="accounts.user",
                 data={"username": tried}, client_address=_address(request))  # fmt: skip


def _remember(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and not set(update_fields) & set(WATCHED)):
        instance._audit_before = None  # type: ignore[attr-defined]
        return
    instance._audit_before = (  # type: ignore[attr-defined]
        User.objects.filter(pk=instance.pk).values(*WATCHED).first()
    )


def _changed(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if created:
        flags = {"is_staff": instance.is_staff, "is_superuser": instance.is_superuser}
        audit_record(actor=_actor(), action="user.create", obj=instance,
                     data={"email": instance.email, **flags}, client_address=_address())  # fmt: skip
        return
    before = getattr(instance, "_audit_before", None)
    if not before:
        return
    changes: dict[str, Any] = {}
    for field in WATCHED:
        old, new = before[field], getattr(instance, field)
        if old != new:
            changes[field] = "changed" if field == "password" else {"before": old, "after": new}
    if changes:
        audit_record(actor=_actor(), action="user.change", obj=instance, data=changes,
                     client_address=_address())  # fmt: skip


def _relations(relation: str) -> Any:
    def handler(sender: Any, instance: Any, action: str, pk_set: set[int] | None,
                model: Any, reverse: bool, **kwargs: Any) -> None:  # fmt: skip
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        labels = sorted(str(obj) for obj in model.objects.filter(pk__in=pk_set or []))
        users = [instance] if not reverse else list(User.objects.filter(pk__in=pk_set or []))
        if reverse:
            labels = [str(instance)]
        for user in users:
            audit_record(actor=_actor(), action=f"user.{relation}.{action[5:]}", obj=user,
                         data={relation: labels}, client_address=_address())  # fmt: skip

    return handler


def connect() -> None:
    """Connect the handlers (from ``AccountsConfig.ready``)."""
    user_logged_in.connect(_logged_in, dispatch_uid="audit-login")
    user_login_failed.connect(_login_failed, dispatch_uid="audit-login-failed")
    pre_save.connect(_remember, sender=User, dispatch_uid="audit-user-before")
    post_save.connect(_changed, sender=User, dispatch_uid="audit-user-after")
    # weak=False: the handlers are closures that nothing else holds on to.
    m2m_changed.connect(_relations("groups"), sender=User.groups.through, weak=False,
                        dispatch_uid="audit-user-groups")  # fmt: skip
    m2m_changed.connect(_relations("permissions"), sender=User.user_permissions.through,
                        weak=False, dispatch_uid="audit-user-permissions")  # fmt: skip
