"""Users in the staff admin: roles are read-only here and change by four-eyes proposal.

It replaces the ledger's user admin (accounts may not know compliance): the same list
and form, with is_staff, is_superuser, groups and permissions read-only, and a
"Propose a role change" page whose proposal a different staff member approves in the
four-eyes queue. Groups are read-only too: their permissions are code
(``compliance.roles``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group, Permission
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import UserAdmin
from accounts.models import User
from compliance.permissions import has_perm
from compliance.services import staff_role_propose
from compliance.services.staff import MANAGE_STAFF, staff_roles_of
from core.admin_tools import ReadOnlyAdmin, call_service

ROLE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


class RoleChangeForm(forms.Form):
    is_staff = forms.BooleanField(required=False)
    is_superuser = forms.BooleanField(required=False)
    groups = forms.ModelMultipleChoiceField(
        Group.objects.order_by("name"), required=False, to_field_name="name"
    )
    permissions = forms.ModelMultipleChoiceField(
        Permission.objects.select_related("content_type").order_by(
            "content_type__app_label", "codename"
        ),
        required=False,
        help_text=gettext_lazy("direct permissions (roles should come from groups)"),
    )
    reason = forms.CharField(
        max_length=500, help_text=gettext_lazy("why (a colleague approves the change)")
    )


class StaffUserAdmin(UserAdmin):
    change_form_template = "admin/compliance/user/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [*super().get_readonly_fields(request, obj), *ROLE_FIELDS]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:user_id>/roles/",
                self.admin_site.admin_view(self.roles_view),
                name="accounts_user_propose_roles",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_propose_roles": has_perm(request.user, MANAGE_STAFF),
        }
        return super().change_view(request, object_id, form_url, context)

    def roles_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        user = get_object_or_404(User, pk=user_id)
        current = staff_roles_of(user)
        initial = {
            "is_staff": current["is_staff"],
            "is_superuser": current["is_superuser"],
            "groups": Group.objects.filter(name__in=current["groups"]),
            "permissions": user.user_permissions.all(),
        }
        form = RoleChangeForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            ok, proposal = call_service(
                request, staff_role_propose, _("Role change"),
                user_id=user.pk, is_staff=data["is_staff"], is_superuser=data["is_superuser"],
                groups=[g.name for g in data["groups"]],
                permissions=[f"{p.content_type.app_label}.{p.codename}"
                             for p in data["permissions"]],
                reason=data["reason"],
            )  # fmt: skip
            if ok:
                messages.info(request, _("Role change proposed (approval request %(pk)s); a "
                                         "different staff member must approve it.")
                              % {"pk": proposal.pk})  # fmt: skip
                return redirect("admin:compliance_approvalrequest_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Propose a role change for %(email)s (four eyes)") % {"email": user.email},
            "form": form,
        }
        return TemplateResponse(request, "admin/alatau_form.html", context)


class GroupReadOnlyAdmin(ReadOnlyAdmin):
    """The role groups and their permissions, read-only (they are defined in code)."""

    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["permissions"]


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
admin.site.register(Group, GroupReadOnlyAdmin)
