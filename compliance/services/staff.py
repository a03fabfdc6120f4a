"""Staff roles by four eyes: who is staff or superuser, their groups and permissions.

What a staff member may do is itself a control, so nobody changes it alone: one
holder of ``compliance.manage_staff`` proposes the user's new flags, groups and
direct permissions; a different holder approves, and only then are they applied, in
the approval's transaction. Granting or removing superuser needs two superusers. The
person whose roles change may not approve it. The staff admin shows these fields
read-only and offers "propose a role change" instead. The accounts app's signals
audit the applied change as well (``user.change``, ``user.groups.add``, ...).

The groups' own permissions are code (``compliance.roles``), synced at migrate time:
they change by a reviewed deploy, not in the admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from accounts.models import User
from audit.chain import audit_record
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest
from compliance.permissions import require_perm
from compliance.services.approvals import approval_action_register, approval_propose
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

MANAGE_STAFF = "compliance.manage_staff"
ROLE_CHANGE = "staff_role_change"
GROUPS_MAX = 20
PERMISSIONS_MAX = 200


def staff_roles_of(user: User) -> dict[str, Any]:
    """Return a user's role state as the proposals store it (sorted names)."""
    return {
        "is_staff": bool(user.is_staff),
        "is_superuser": bool(user.is_superuser),
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(
            f"{app}.{code}"
            for app, code in user.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


def _permissions(labels: list[str]) -> list[Permission]:
    found: list[Permission] = []
    unknown: list[str] = []
    for label in labels:
        app, _, code = label.partition(".")
        perm = Permission.objects.filter(content_type__app_label=app, codename=code).first()
        if perm is None:
            unknown.append(label)
        else:
            found.append(perm)
    if unknown:
        raise ValidationFailed("Unknown permissions", fields={"permissions": unknown[:20]})
    return found


def _clean(groups: list[str], permissions: list[str]) -> tuple[list[str], list[str]]:
    groups = sorted({str(g).strip() for g in groups if str(g).strip()})
    permissions = sorted({str(p).strip() for p in permissions if str(p).strip()})
    if len(groups) > GROUPS_MAX or len(permissions) > PERMISSIONS_MAX:
        raise ValidationFailed("Too many groups or permissions")
    known = set(Group.objects.filter(name__in=groups).values_list("name", flat=True))
    if unknown := [g for g in groups if g not in known]:
        raise ValidationFailed("Unknown groups", fields={"groups": unknown})
    _permissions(permissions)
    return groups, permissions


def staff_role_propose(
    *,
    actor: Actor,
    user_id: int,
    is_staff: bool,
    is_superuser: bool,
    groups: list[str],
    permissions: list[str],
    reason: str,
    client_address: str | None = None,
) -> ApprovalRequest:
    """Propose a user's new staff flags, groups (by name) and permissions ("app.codename")."""
    actor = require_perm(actor, MANAGE_STAFF)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found")
    groups, permissions = _clean(groups, permissions)
    before = staff_roles_of(user)
    after = {"is_staff": bool(is_staff), "is_superuser": bool(is_superuser),
             "groups": groups, "permissions": permissions}  # fmt: skip
    if before == after:
        raise ValidationFailed("Nothing to change", fields={"groups": ["Same as now."]})
    if before["is_superuser"] != after["is_superuser"] and not actor.is_superuser:
        raise PermissionDenied("Only a superuser may propose granting or removing superuser")
    return approval_propose(
        actor=actor,
        action=ROLE_CHANGE,
        target=user,
        params={"email": user.email, "before": before, "after": after},
        reason=reason,
        client_address=client_address,
    )


def _role_change_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    before, after = request.params["before"], request.params["after"]
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=int(request.target_id)).first()
        if user is None:
            raise NotFound("User not found")
        if user.pk == getattr(actor, "pk", None):
            raise FourEyesViolation("You may not approve a change to your own roles")
        if before["is_superuser"] != after["is_superuser"] and not getattr(
            actor, "is_superuser", False
        ):
            raise PermissionDenied("Only a superuser may approve granting or removing superuser")
        if staff_roles_of(user) != before:
            raise Conflict("The user's roles changed since this was proposed; propose again")
        user.is_staff = bool(after["is_staff"])
        user.is_superuser = bool(after["is_superuser"])
        user.save(update_fields=["is_staff", "is_superuser"])
        user.groups.set(Group.objects.filter(name__in=after["groups"]))
        user.user_permissions.set(_permissions(after["permissions"]))
        audit_record(
            actor=actor,
            action="staff.role_change",
            obj=user,
            data={
                "before": before,
                "after": after,
                "approval": request.pk,
                "proposed_by": request.proposed_by_id,
            },
        )
    return {"user_id": user.pk, **after}


approval_action_register(
    ROLE_CHANGE,
    permission=MANAGE_STAFF,
    executor=_role_change_execute,
    description=gettext_noop("Change a user's staff flags, groups or permissions"),
)
