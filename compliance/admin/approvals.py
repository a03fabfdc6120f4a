"""Four-eyes requests: the second staff member approves or rejects here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from compliance.admin.common import ReadOnlyAdmin, ReasonActionForm, call_service, reason_of
from compliance.models import ApprovalRequest
from compliance.services import approval_approve, approval_reject


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
