"""Four-eyes requests (the second staff member approves or rejects here) and account controls."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from compliance.admin.common import ReadOnlyAdmin, ReasonActionForm, call_service, reason_of
from compliance.models import AccountControl, ApprovalRequest
from compliance.services import (
    approval_approve,
    approval_reject,
    staff_account_freeze,
    staff_account_unfreeze_propose,
)


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
        "created_at",
    ]
    list_filter = ["status", "action"]
    search_fields = ["target_id", "reason"]
    list_select_related = ["proposed_by", "approved_by", "rejected_by"]
    action_form = ReasonActionForm
    actions = ["approve", "reject"]

    @admin.action(description="Approve and execute (you must not be the proposer)")
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

    @admin.action(description="Reject (reason required)")
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


@admin.register(AccountControl)
class AccountControlAdmin(ReadOnlyAdmin):
    """Freeze customer accounts at once; unfreezing is proposed for a second approver."""

    list_display = ["number", "owner", "currency", "kind", "status", "posted_minor", "held_minor"]
    list_filter = ["status", "currency", "kind"]
    search_fields = ["number", "owner__email"]
    list_select_related = ["owner"]
    action_form = ReasonActionForm
    actions = ["freeze", "propose_unfreeze"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccountControl]:
        return super().get_queryset(request).filter(kind__in=["customer", "merchant"])

    @admin.action(description="Freeze now (reason required)")
    def freeze(self, request: HttpRequest, queryset: QuerySet[AccountControl]) -> None:
        for account in queryset:
            ok, _ = call_service(request, staff_account_freeze, account.number,
                                 account_id=account.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, f"{account.number} frozen.")

    @admin.action(description="Propose unfreezing (four eyes, reason required)")
    def propose_unfreeze(self, request: HttpRequest, queryset: QuerySet[AccountControl]) -> None:
        for account in queryset:
            ok, proposal = call_service(request, staff_account_unfreeze_propose, account.number,
                                        account_id=account.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, f"Unfreezing {account.number} proposed "
                                          f"(request {proposal.pk}).")  # fmt: skip
