"""Four-eyes requests (the second staff member approves or rejects here) and account controls."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin import AccountAdmin
from accounts.models import Account
from compliance.models import ApprovalRequest
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
        "action",
        "target_type",
        "target_id",
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

    def has_decide_permission(self, request: HttpRequest) -> bool:
        # Each request needs its action's permission (the service checks it per request).
        return any(has_perm(request.user, perm) for perm in approval_permissions())

    @admin.action(
        description="Approve and execute (you must not be the proposer)", permissions=["decide"]
    )
    def approve(self, request: HttpRequest, queryset: QuerySet[ApprovalRequest]) -> None:
        for item in queryset:
            ok, _ = call_service(
                request,
                approval_approve,
                f"Request {item.pk}",
                request_id=item.pk,
                reason=reason_of(request),
            )
            if ok:
                messages.success(request, f"Request {item.pk} approved and executed.")

    @admin.action(description="Reject (reason required)", permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ApprovalRequest]) -> None:
        for item in queryset:
            ok, _ = call_service(
                request,
                approval_reject,
                f"Request {item.pk}",
                request_id=item.pk,
                reason=reason_of(request),
            )
            if ok:
                messages.success(request, f"Request {item.pk} rejected.")


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

    @admin.action(description="Freeze now (reason required)", permissions=["freeze"])
    def freeze(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            ok, _ = call_service(request, staff_account_freeze, account.number,
                                 account_id=account.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, f"{account.number} frozen.")

    @admin.action(
        description="Propose unfreezing (four eyes, reason required)", permissions=["unfreeze"]
    )
    def propose_unfreeze(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            ok, proposal = call_service(request, staff_account_unfreeze_propose, account.number,
                                        account_id=account.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, f"Unfreezing {account.number} proposed "
                                          f"(request {proposal.pk}).")  # fmt: skip


admin.site.unregister(Account)
admin.site.register(Account, AccountControlAdmin)
