"""Four-eyes requests (the second staff member approves or rejects here) and account controls."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import AccountAdmin
from accounts.models import Account
from compliance.admin.approval_words import approval_permitted, approval_words
from compliance.models import ApprovalRequest, ApprovalStatus
from compliance.permissions import has_perm
from compliance.services import (
    approval_approve,
    approval_reject,
    staff_account_freeze,
    staff_account_unfreeze_propose,
)
from compliance.services.actions import FREEZE, UNFREEZE
from compliance.services.approvals import approval_permissions
from core.admin_tools import ReadOnlyAdmin, ReasonActionForm, call_service, reason_of


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "what",
        "status",
        "proposed_by",
        "approved_by",
        "rejected_by",
        "reason",
        "params",
        "created_at",
    ]
    list_filter = ["status", "action"]
    search_fields = ["target_id", "reason"]
    list_select_related = ["proposed_by", "approved_by", "rejected_by"]
    action_form = ReasonActionForm
    actions = ["approve", "reject"]
    change_form_template = "admin/compliance/approvalrequest/change_form.html"

    @admin.display(description=gettext_lazy("What is asked"))
    def what(self, obj: ApprovalRequest) -> str:
        return approval_words(obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """Offer Approve and Reject only to staff who may decide some pending request."""
        actions = super().get_actions(request)
        pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)[:200]
        if not any(approval_permitted(request.user, item) for item in pending):
            actions.pop("approve", None)
            actions.pop("reject", None)
        return actions

    def get_urls(self) -> list[URLPattern]:
        ours = [
            path(
                "<int:request_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="compliance_approvalrequest_decide",
            )
        ]
        return ours + super().get_urls()

    def decide_view(self, request: HttpRequest, request_id: int) -> HttpResponse:
        """Approve or reject one request from its page (POST, reason from the form)."""
        if request.method != "POST":
            return redirect("admin:compliance_approvalrequest_change", request_id)
        service = approval_approve if request.POST.get("decision") == "approve" else approval_reject
        ok, _done = call_service(request, service, _("Request %(pk)s") % {"pk": request_id},
                             request_id=request_id, reason=reason_of(request))  # fmt: skip
        if ok:
            messages.success(request, _("Request %(pk)s: decision recorded.") % {"pk": request_id})
        return redirect("admin:compliance_approvalrequest_change", request_id)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:  # fmt: skip
        item = ApprovalRequest.objects.filter(pk=object_id).first()
        context = {**(extra_context or {})}
        if item is not None:
            context["approval_words"] = approval_words(item)
            context["can_decide"] = item.status == ApprovalStatus.PENDING and approval_permitted(
                request.user, item
            )
        return super().change_view(request, object_id, form_url, context)

    def has_decide_permission(self, request: HttpRequest) -> bool:
        # Each request needs its action's permission (the service checks it per request).
        return any(has_perm(request.user, perm) for perm in approval_permissions())

    @admin.action(
        description=gettext_lazy("Approve and execute (you must not be the proposer)"),
        permissions=["decide"],
    )
    def approve(self, request: HttpRequest, queryset: QuerySet[ApprovalRequest]) -> None:
        for item in queryset:
            ok, _done = call_service(
                request,
                approval_approve,
                _("Request %(pk)s") % {"pk": item.pk},
                request_id=item.pk,
                reason=reason_of(request),
            )
            if ok:
                messages.success(
                    request, _("Request %(pk)s approved and executed.") % {"pk": item.pk}
                )

    @admin.action(description=gettext_lazy("Reject (reason required)"), permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ApprovalRequest]) -> None:
        for item in queryset:
            ok, _done = call_service(
                request,
                approval_reject,
                _("Request %(pk)s") % {"pk": item.pk},
                request_id=item.pk,
                reason=reason_of(request),
            )
            if ok:
                messages.success(request, _("Request %(pk)s rejected.") % {"pk": item.pk})


class AccountControlAdmin(AccountAdmin):
    """The ledger's account list with compliance's controls: freeze now, unfreeze by four eyes.

    It replaces the ledger's read-only registration, so staff find one list of accounts.
    """

    action_form = ReasonActionForm
    actions = ["freeze", "propose_unfreeze"]

    def has_freeze_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, FREEZE)

    def has_unfreeze_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, UNFREEZE)

    @admin.action(description=gettext_lazy("Freeze now (reason required)"), permissions=["freeze"])
    def freeze(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            ok, _done = call_service(request, staff_account_freeze, account.number,
                                 account_id=account.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, _("%(number)s frozen.") % {"number": account.number})

    @admin.action(
        description=gettext_lazy("Propose unfreezing (four eyes, reason required)"),
        permissions=["unfreeze"],
    )
    def propose_unfreeze(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            ok, proposal = call_service(request, staff_account_unfreeze_propose, account.number,
                                        account_id=account.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, _("Unfreezing %(number)s proposed (request %(pk)s).")
                                 % {"number": account.number, "pk": proposal.pk})  # fmt: skip


admin.site.unregister(Account)
admin.site.register(Account, AccountControlAdmin)
